"""Settings of `diffcoder bench batch` (torch-free, so building the command line stays fast)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

CONCURRENCY = (1, 2, 4, 8, 16)


@dataclass(frozen=True)
class BatchBenchSettings:
    """Continuous batching against one request after another (`diffcoder bench batch`)."""

    name: ClassVar[str] = "batch"
    out: Path | None = None  # where the page and plot go; None prints only
    concurrency: tuple[int, ...] = CONCURRENCY
    max_new_tokens: int = 64  # the longest request's budget; the others get less
    model: Path | None = None  # None: the embedded demo model
    dtype: str = "float32"
    device: str = "cpu"
    quick: bool = False  # a smoke run: small budgets

    def __post_init__(self) -> None:
        if not self.concurrency or min(self.concurrency) < 1:
            raise ValueError("--concurrency takes positive request counts, such as 1,2,4,8,16")

    def command(self) -> str:
        """The command that reruns these settings (without `--out`)."""
        parts = [
            "diffcoder bench batch",
            f"--concurrency {','.join(map(str, self.concurrency))}",
            f"--max-new-tokens {self.max_new_tokens}",
        ]
        if self.model is not None:
            parts.append(f"--model {self.model}")
        if self.dtype != "float32":
            parts.append(f"--dtype {self.dtype}")
        if self.device != "cpu":
            parts.append(f"--device {self.device}")
        if self.quick:
            parts.append("--quick")
        return " ".join(parts)
