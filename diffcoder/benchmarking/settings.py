"""The settings of each timed benchmark (`diffcoder bench decode|draft|lsp`), with their defaults
defined once: the command line reads them from here, and `bench all` overrides a few.

Torch-free, so building the command line stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar


@dataclass(frozen=True)
class _DecodingBench:
    """What the two decoding benchmarks share: a length, repeats and a quick variant."""

    name: ClassVar[str]
    out: Path | None = None  # where the table and plot go; None prints only
    max_new_tokens: int = 64
    repeats: int = 2
    quick: bool = False

    def command(self) -> str:
        """The command that reruns these settings (without `--out`)."""
        quick = " --quick" if self.quick else ""
        return (
            f"diffcoder bench {self.name}{quick} --max-new-tokens {self.max_new_tokens} "
            f"--repeats {self.repeats}"
        )


@dataclass(frozen=True)
class DecodeBenchSettings(_DecodingBench):
    """Parity vs fast decoding (`diffcoder bench decode`); quick: tiny checkpoints only."""

    name: ClassVar[str] = "decode"


@dataclass(frozen=True)
class DraftBenchSettings(_DecodingBench):
    """Draft-accelerated vs plain decoding (`diffcoder bench draft`); quick: a tiny checkpoint
    instead of ~30M parameters."""

    name: ClassVar[str] = "draft"
    max_new_tokens: int = 256


@dataclass(frozen=True)
class LspBenchSettings:
    """Language server request latency (`diffcoder bench lsp`)."""

    out: Path | None = None
    repeats: int = 20
    max_new_tokens: int = 32  # edit and infill budget
    file: Path | None = None  # the document; None: examples/stats.py
    threads: int = 1  # torch threads in the server

    def command(self) -> str:
        return (
            f"diffcoder bench lsp --repeats {self.repeats} --max-new-tokens "
            f"{self.max_new_tokens} --threads {self.threads}"
        )
