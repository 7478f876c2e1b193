"""Where the read-only `../shared` material (real tokenizer, data sets) is, when present.

Used by tests, benchmarks and evaluation only; nothing from it is ever copied into the project.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_shared_dir() -> Path:
    """`../shared` beside the repository, or wherever DIFFCODER_SHARED_DIR points."""
    env = os.environ.get("DIFFCODER_SHARED_DIR")
    if env:
        return Path(env)
    return (Path(__file__).resolve().parents[2] / ".." / "shared").resolve()


def default_real_tokenizer() -> Path:
    return default_shared_dir() / "tokenizers" / "stable-diffcoder" / "tokenizer.json"


def default_editeval_path() -> Path:
    return default_shared_dir() / "data" / "editeval" / "editeval.jsonl"
