"""Session fixtures for model tests: tiny random-weight checkpoints and the optional shared dir.

Checkpoints are written once per session; tests that change files copy them first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from diffcoder.testing.shared_data import default_shared_dir
from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small vocab, default sizes, seed 0: near-uniform next-token distributions."""
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "ckpt", seed=0)


@pytest.fixture(scope="session")
def sharp_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Like `tiny_ckpt` with lm_head x30, so softmax is peaked like a confident trained model."""
    return make_tiny_checkpoint(tmp_path_factory.mktemp("sharp") / "ckpt", seed=0, head_scale=30.0)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """`../shared` (or $DIFFCODER_SHARED_DIR); skips the test where it is absent."""
    path = default_shared_dir()
    if not path.is_dir():
        pytest.skip(f"shared directory {path} is absent")
    return path


@pytest.fixture(scope="session")
def real_tokenizer_json(shared_dir: Path) -> Path:
    """The real Stable-DiffCoder tokenizer.json from the shared dir; skips where it is absent."""
    path = shared_dir / "tokenizers" / "stable-diffcoder" / "tokenizer.json"
    if not path.is_file():
        pytest.skip(f"real tokenizer {path} is absent")
    return path


@pytest.fixture(scope="session")
def sharded_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`tiny_ckpt`'s weights in two shards with an HF-style model.safetensors.index.json."""
    return make_tiny_checkpoint(tmp_path_factory.mktemp("sharded") / "ckpt", seed=0, shards=2)


@pytest.fixture(scope="session")
def packable_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Like `tiny_ckpt`, with an MLP width (192) that every bitsandbytes 4-bit CPU kernel takes:
    every projection is [32k, 64m], so 4-bit quantizes all of them on every x86-64 CPU."""
    path = tmp_path_factory.mktemp("packable") / "ckpt"
    return make_tiny_checkpoint(path, seed=0, intermediate=192)
