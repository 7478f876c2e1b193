"""Broken checkpoints: every way a download or a copy goes wrong is one `ModelLoadError` that names
the file and the fix, found before transformers reads the weights; what the libraries still raise
is translated the same way. (tests/model/test_load_errors_reach_the_user.py takes the same
messages through the CLI and the language server.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors import SafetensorError
from transformers import LlamaForCausalLM

from diffcoder.model.loading import load_model
from diffcoder.model.types import ModelLoadError
from diffcoder.model.weight_files import check_weights, read_header
from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint
from tests.model.breakages import BREAKAGES, LIBRARY_TEXT, SINGLE, copy_checkpoint


def _broken(name: str, tiny: Path, sharded: Path, tmp_path: Path) -> Path:
    needs_shards, breaks, _words = BREAKAGES[name]
    ckpt = copy_checkpoint(sharded if needs_shards else tiny, tmp_path / name)
    breaks(ckpt)
    return ckpt


def _load_error(ckpt: Path) -> str:
    with pytest.raises(ModelLoadError) as caught:
        load_model(ckpt, "cpu", "none", "fp32")
    return str(caught.value)


@pytest.mark.parametrize("name", sorted(BREAKAGES))
def test_each_breakage_is_one_clear_message(
    name: str, tiny_ckpt: Path, sharded_ckpt: Path, tmp_path: Path
) -> None:
    ckpt = _broken(name, tiny_ckpt, sharded_ckpt, tmp_path)
    message = _load_error(ckpt)
    assert all(words in message for words in BREAKAGES[name][2]), message
    assert not any(text in message for text in LIBRARY_TEXT), message
    assert "\n" not in message and len(message) < 400, message


def test_breakages_are_found_before_transformers_reads_weights(
    monkeypatch: pytest.MonkeyPatch, tiny_ckpt: Path, sharded_ckpt: Path, tmp_path: Path
) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("transformers was asked to load a checkpoint known to be broken")

    monkeypatch.setattr(LlamaForCausalLM, "from_pretrained", never)
    for name in BREAKAGES:
        ckpt = _broken(name, tiny_ckpt, sharded_ckpt, tmp_path)
        assert "transformers was asked" not in _load_error(ckpt), name


@pytest.mark.parametrize("name", [SINGLE, "tokenizer.json", "config.json"])
def test_an_unreadable_file_is_named(
    monkeypatch: pytest.MonkeyPatch, tiny_ckpt: Path, name: str
) -> None:
    real_open = Path.open

    def open_unless_denied(self: Path, *args: object, **kwargs: object):
        if self.name == name:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_unless_denied)
    message = _load_error(tiny_ckpt)
    assert f"cannot read {tiny_ckpt / name} (Permission denied)" in message
    assert "permissions" in message


def test_weights_of_another_size_name_both_sizes(tmp_path: Path, tiny_ckpt: Path) -> None:
    wide = make_tiny_checkpoint(tmp_path / "wide", hidden=128)
    ckpt = copy_checkpoint(tiny_ckpt, tmp_path / "mixed")
    (ckpt / SINGLE).write_bytes((wide / SINGLE).read_bytes())
    message = _load_error(ckpt)
    assert "config.json says hidden_size 64" in message
    assert f"{ckpt / SINGLE} holds 128-wide tensors" in message


def test_good_checkpoints_pass_the_checks(
    tiny_ckpt: Path, sharded_ckpt: Path, packable_ckpt: Path
) -> None:
    from diffcoder.model.checkpoint_files import read_config
    from diffcoder.model.embedded import DEMO_MODEL_DIR

    for ckpt in (tiny_ckpt, sharded_ckpt, packable_ckpt, DEMO_MODEL_DIR):
        check_weights(ckpt, read_config(ckpt))
    tensors = read_header(tiny_ckpt / SINGLE)
    assert tensors["model.embed_tokens.weight"].shape == (1024, 64)
    assert tensors["model.embed_tokens.weight"].dtype == "BF16"


def test_tied_embeddings_need_no_output_head(tmp_path: Path, tiny_ckpt: Path) -> None:
    from diffcoder.model.checkpoint_files import read_config

    ckpt = _broken("missing_output_head", tiny_ckpt, tiny_ckpt, tmp_path)
    config = read_config(ckpt) | {"tie_word_embeddings": True}
    check_weights(ckpt, config)  # no error: the head is the embedding matrix


@pytest.mark.parametrize(
    ("raised", "words"),
    [
        (SafetensorError("Error while deserializing header: invalid"), "re-download"),
        (OSError("No such file or directory: model-00003.safetensors"), "re-download"),
        (RuntimeError("You set `ignore_mismatched_sizes` to `False`"), "re-download"),
        (KeyError("weight_map"), "re-download"),
        (ValueError("unexpected internal state"), "re-download"),
        (MemoryError(), "out of memory while loading"),
        (RuntimeError("DefaultCPUAllocator: can't allocate memory"), "--dtype bfloat16"),
        (ModuleNotFoundError("No module named 'accelerate'", name="accelerate"), "accelerate"),
    ],
)
def test_what_the_libraries_still_raise_is_translated(
    monkeypatch: pytest.MonkeyPatch, tiny_ckpt: Path, raised: BaseException, words: str
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise raised

    monkeypatch.setattr(LlamaForCausalLM, "from_pretrained", fail)
    message = _load_error(tiny_ckpt)
    assert words in message and str(tiny_ckpt) in message
    assert not any(text in message for text in ("deserializing", "ignore_mismatched", "internal"))


def test_a_bug_is_not_disguised_as_a_broken_checkpoint(
    monkeypatch: pytest.MonkeyPatch, tiny_ckpt: Path
) -> None:
    def bug(*args: object, **kwargs: object) -> None:
        raise TypeError("from_pretrained() got an unexpected keyword argument")

    monkeypatch.setattr(LlamaForCausalLM, "from_pretrained", bug)
    with pytest.raises(TypeError):
        load_model(tiny_ckpt, "cpu", "none", "fp32")


def test_long_texts_encode_without_the_length_warning(
    tiny_ckpt: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tokenizer = load_model(tiny_ckpt, "cpu", "none", "fp32").tokenizer
    text = "def f(x):\n    return x + 1\n" * 3000  # far past the 8192 of tokenizer_config.json
    with caplog.at_level("WARNING"):
        ids = tokenizer.encode(text, add_special_tokens=False)
        ids_again = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) > 8192 and ids_again == ids
    assert not [r for r in caplog.records if "longer than the specified maximum" in r.getMessage()]


def test_weight_loading_progress_bar_only_when_asked(
    tiny_ckpt: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from transformers.utils import logging as hf_logging

    load_model(tiny_ckpt, "cpu", "none", "fp32", progress_bars=False)
    assert "Loading weights" not in capfd.readouterr().err
    assert hf_logging.is_progress_bar_enabled()  # switched back on afterwards
    load_model(tiny_ckpt, "cpu", "none", "fp32")
    assert "Loading weights" in capfd.readouterr().err


def test_engine_passes_the_progress_option_on(
    monkeypatch: pytest.MonkeyPatch, tiny_ckpt: Path
) -> None:
    from diffcoder.model import engine
    from diffcoder.model.types import LoadOptions

    seen: dict[str, object] = {}
    real = engine.load_model

    def spy(*args: object, **kwargs: object):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "load_model", spy)
    engine.load_engine(tiny_ckpt, LoadOptions(device="cpu", quant="none", progress_bars=False))
    assert seen["progress_bars"] is False
    assert torch.get_default_dtype() == torch.float32
