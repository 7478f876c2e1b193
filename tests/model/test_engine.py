"""The engine over real loading paths: quantized layers, the real tokenizer, a sharpened head."""

from __future__ import annotations

import pytest

from diffcoder.model.backend import encode_prompt
from diffcoder.model.engine import load_engine
from diffcoder.model.types import DecodeConfig, LoadOptions
from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint


@pytest.mark.parametrize(("quant", "layer"), [("8bit", "Linear8bitLt"), ("4bit", "Linear4bit")])
def test_decoding_runs_on_bitsandbytes_layers(packable_ckpt, quant, layer):
    # Sizes every CPU kernel takes: every projection is quantized on every x86-64 CPU.
    engine = load_engine(packable_ckpt, LoadOptions(device="cpu", quant=quant, dtype="float32"))
    projections = [m for n, m in engine.model.named_modules() if n.endswith("_proj")]
    assert {type(m).__name__ for m in projections} == {layer}
    prompt = encode_prompt(engine.tokenizer, "def add(a, b):", chat=True)
    config = DecodeConfig(max_new_tokens=12, threshold=None)
    fast = engine.generate(prompt, config)
    assert fast.finish_reason in ("length", "eos") and fast.nfe >= 1
    assert not set(fast.token_ids) & engine.special.banned
    assert engine.generate(prompt, config).token_ids == fast.token_ids  # deterministic


def test_sharpened_checkpoint_commits_whole_blocks(sharp_ckpt):
    engine = load_engine(sharp_ckpt, LoadOptions(device="cpu", quant="none", dtype="float32"))
    prompt = encode_prompt(engine.tokenizer, "class Stack:", chat=True)
    result = engine.generate(prompt, DecodeConfig(max_new_tokens=32, threshold=0.5))
    assert result.tokens_per_forward > 1.5


def test_real_tokenizer_checkpoint_end_to_end(tmp_path, real_tokenizer_json):
    path = make_tiny_checkpoint(tmp_path / "real", vocab="real", real_tokenizer=real_tokenizer_json)
    engine = load_engine(path, LoadOptions(device="cpu", quant="none", dtype="float32"))
    special = engine.special
    assert (special.mask, special.eos, special.pad, special.bos) == (5, 2, 1, 0)
    assert (special.fim_prefix, special.fim_suffix, special.fim_middle) == (124, 125, 126)
    assert set(range(155121, 155136)) <= special.banned
    ids = encode_prompt(engine.tokenizer, "Add a docstring.", chat=True)
    # BOS user \n … EOS BOS assistant \n — no doubled BOS/EOS from encoding
    assert ids[0] == 0 and ids.count(0) == 2 and ids.count(2) == 1
    assert engine.decode(ids).endswith("<[begin▁of▁sentence]>assistant\n")
    result = engine.generate(ids, DecodeConfig(max_new_tokens=8, threshold=None))
    assert not set(result.token_ids) & special.banned
