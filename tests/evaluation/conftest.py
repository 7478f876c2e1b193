"""Fixtures for evaluation tests: the synthetic CanItEdit rows, a tiny checkpoint, shared data."""

from __future__ import annotations

from pathlib import Path

import pytest

from diffcoder.testing.shared_data import default_editeval_path, default_shared_dir
from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def canitedit_rows() -> Path:
    return DATA / "canitedit_synthetic.jsonl"


@pytest.fixture(scope="session")
def eval_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("eval") / "tiny", seed=0)


@pytest.fixture(scope="session")
def editeval_path() -> Path:
    path = default_editeval_path()
    if not path.is_file():
        pytest.skip(f"EditEval is absent at {path}")
    return path


@pytest.fixture(scope="session")
def infilling_path() -> Path:
    path = default_shared_dir() / "data/humaneval-infilling/humaneval_infilling_single-line.jsonl"
    if not path.is_file():
        pytest.skip(f"HumanEval-infilling is absent at {path}")
    return path
