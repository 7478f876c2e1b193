"""The editor session that `diffcoder demo` shows and `diffcoder bench lsp` times: one file, one
instruction at one cursor, and the text typed before an inline completion, plus the command that
starts the server. One definition, so the demo and the benchmark measure the same requests.
"""

from __future__ import annotations

import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "stats.py"
INSTRUCTION = "Handle the empty list: return 0.0."
CURSOR_MARKER = "return sum(xs)"  # the edit's cursor goes here: inside `mean`
# What the user "types" at the end of the file before asking for an inline completion.
TYPED = "\n\ndef mode(xs):\n    counts = {}\n    for x in xs:\n        "
# The demo's answer budget: enough for the sample's edit, short enough to answer in a second.
DEMO_MAX_NEW_TOKENS = 64


def cursor_offset(text: str) -> int:
    """Where the edit's cursor goes in `text` (its start when the marker is absent)."""
    return text.index(CURSOR_MARKER) if CURSOR_MARKER in text else 0


def typed_text(text: str) -> str:
    """`text` after the user typed `TYPED` at its end; the completion's cursor is at the end."""
    return text.rstrip("\n") + TYPED


def server_command(model: str | Path | None) -> list[str]:
    """`diffcoder-lsp` on the CPU, on `model` or else the server's own default (the demo model)."""
    # `python -m diffcoder.lsp_server` is `diffcoder-lsp`, without depending on PATH.
    chosen = ["--model", str(model)] if model is not None else []
    return [sys.executable, "-m", "diffcoder.lsp_server", *chosen, "--device", "cpu"]
