"""Terminal progress for slow command-line work (decoding steps), written to stderr.

Only draws on an interactive terminal, so logs and JSON consumers stay clean.
"""

from __future__ import annotations

from typing import TextIO

from diffcoder.model.types import StepInfo


class StepPrinter:
    """A per-step callback drawing `decoding 12/128 tokens · 15 forwards` on one line."""

    def __init__(self, stream: TextIO, *, enabled: bool = True) -> None:
        self.stream = stream
        self.enabled = enabled and stream.isatty()
        self.drawn = False

    def __call__(self, info: StepInfo) -> None:
        if not self.enabled:
            return
        self.stream.write(
            f"\rdecoding {info.committed}/{info.max_new_tokens} tokens · {info.nfe} forwards"
        )
        self.stream.flush()
        self.drawn = True

    def __enter__(self) -> StepPrinter:
        return self

    def __exit__(self, *exc) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
