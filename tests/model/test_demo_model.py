"""The embedded demo model: a real checkpoint in the package, loaded like any other, that has
learned enough for semantic checks only a working sampler and prompt path pass."""

from __future__ import annotations

import json

import pytest

from diffcoder.editing.infill_pipeline import run_infill
from diffcoder.model.backend import encode_prompt
from diffcoder.model.embedded import DEMO_MODEL_DIR, demo_model_path, is_demo_model
from diffcoder.model.engine import DiffusionEngine, load_engine
from diffcoder.model.types import DecodeConfig, LoadOptions


@pytest.fixture(scope="module")
def engine() -> DiffusionEngine:
    # float32 pinned: the exact answers below must not depend on the default or the CPU.
    options = LoadOptions(device="cpu", quant="none", dtype="float32")
    return load_engine(demo_model_path(), options)


def test_it_is_a_stable_diffcoder_shaped_checkpoint(engine):
    config = json.loads((DEMO_MODEL_DIR / "config.json").read_text())
    assert config["model_type"] == "llama" and config["architectures"] == [
        "StableDiffcoderForCausalLM"
    ]
    special = engine.special
    assert (special.bos, special.pad, special.eos, special.mask) == (0, 1, 2, 5)
    fim = engine.tokenizer.convert_tokens_to_ids(
        ["<[fim-prefix]>", "<[fim-suffix]>", "<[fim-middle]>"]
    )
    assert fim == [124, 125, 126]
    assert is_demo_model(DEMO_MODEL_DIR) and engine.describe().summary.startswith("demo model")
    size = sum(p.stat().st_size for p in DEMO_MODEL_DIR.iterdir())
    assert size < 20 * 2**20  # small enough to ship in the package


def test_training_record_shows_it_learned():
    record = json.loads((DEMO_MODEL_DIR / "training.json").read_text())
    assert record["parameters"] > 1_000_000
    held = record["heldout"]
    assert held["trained"]["loss"] < held["untrained"]["loss"]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("def add(a, b):\n", "\n", "    return a + b\n"),
        ("class Foo:\n    def __init__(self, name):\n        self.name = ", "\n", "name\n"),
    ],
)
def test_obvious_infills(engine, before, after, expected):
    result = run_infill(engine, before + after, len(before), max_new_tokens=32)
    assert result.text == expected


def test_parity_and_fast_decoding_agree_on_a_real_model(engine):
    prompt = encode_prompt(engine.tokenizer, "import os\nimport sys\n\n\ndef main(argv):\n")
    fast = engine.generate(prompt, DecodeConfig(max_new_tokens=32, threshold=None, mode="fast"))
    parity = engine.generate(prompt, DecodeConfig(max_new_tokens=32, threshold=None, mode="parity"))
    assert fast.token_ids == parity.token_ids and fast.nfe < parity.nfe
