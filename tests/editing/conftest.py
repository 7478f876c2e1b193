"""Tokenizer fixtures for the editing tests: the small BPE of a tiny checkpoint, and the real
Stable-DiffCoder tokenizer (skipped where `../shared` does not have it).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from diffcoder.testing.shared_data import default_real_tokenizer
from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint


def _load(directory: Path):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast.from_pretrained(str(directory))


@pytest.fixture(scope="session")
def small_tokenizer(tmp_path_factory: pytest.TempPathFactory):
    """~1000-entry BPE with the real special tokens at their real ids and the family template."""
    return _load(make_tiny_checkpoint(tmp_path_factory.mktemp("editing-small") / "ckpt"))


@pytest.fixture(scope="session")
def real_tokenizer(tmp_path_factory: pytest.TempPathFactory):
    """The real tokenizer.json behind the family chat template; skips where it is absent."""
    if not default_real_tokenizer().is_file():
        pytest.skip(f"real tokenizer {default_real_tokenizer()} is absent")
    directory = tmp_path_factory.mktemp("editing-real") / "ckpt"
    return _load(make_tiny_checkpoint(directory, vocab="real"))


@pytest.fixture(scope="session", params=["small", "real"])
def any_tokenizer(request: pytest.FixtureRequest):
    """Both tokenizers in turn (the real one skips where it is absent)."""
    return request.getfixturevalue(f"{request.param}_tokenizer")
