"""Fixtures for training tests: a small source tree standing in for the standard library."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import PreTrainedTokenizerFast

from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint

MODULE = '''"""A module."""


def mean(xs):
    """The average."""
    return sum(xs) / len(xs)


class Box:
    def __init__(self, size):
        self.size = size

    def scaled(self, factor, *, limit=None):
        result = self.size * factor
        if limit is not None:
            result = min(result, limit)
        return Box(result)
'''


@pytest.fixture(scope="session")
def source_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stdlib")
    for i in range(12):
        text = MODULE.replace("mean", f"mean_{i}").replace("Box", f"Box{i}")
        (root / f"module_{i}.py").write_text(text, encoding="utf-8")
    (root / "copy_of_0.py").write_text((root / "module_0.py").read_text())  # a duplicate
    (root / "broken.py").write_text("def broken(:\n")
    (root / "test").mkdir()
    (root / "test" / "module_x.py").write_text("x = 1\n")
    (root / "test_thing.py").write_text("y = 2\n")
    return root


@pytest.fixture(scope="session")
def small_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> PreTrainedTokenizerFast:
    path = make_tiny_checkpoint(tmp_path_factory.mktemp("tok") / "ckpt")
    return PreTrainedTokenizerFast.from_pretrained(str(path))
