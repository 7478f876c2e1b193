"""Settings of `diffcoder bench edits` (torch-free, so building the command line stays fast)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

PROFILES = ("certain", "realistic", "noisy")  # the oracle's confidence profiles
SCOPES = ("file", "cursor")  # as `diffcoder eval edit --scope`


@dataclass(frozen=True)
class EditsBenchSettings:
    """Drafts on real before/after pairs with an oracle model (`diffcoder bench edits`)."""

    name: ClassVar[str] = "edits"
    out: Path | None = None  # where the page and plot go; None prints only
    dataset: Path | None = None  # None: the shared EditEval set
    format: str = "editeval"
    profiles: tuple[str, ...] = PROFILES
    limit: int | None = None
    scope: str = "file"
    seed: int = 0  # the noisy profile's
    tokenizer: Path | None = None  # a tokenizer.json; None: the shared real one, else the demo's
    # `bench all` runs on machines without ../shared: a missing default data set is skipped there
    skip_missing_data: bool = False

    def __post_init__(self) -> None:
        unknown = [p for p in self.profiles if p not in PROFILES]
        if unknown or not self.profiles:
            raise ValueError(f"--profile must be one of {', '.join(PROFILES)} or all")
        if self.scope not in SCOPES:
            raise ValueError(f"--scope must be one of {', '.join(SCOPES)}, not {self.scope!r}")

    def command(self) -> str:
        """The command that reruns these settings (without `--out`)."""
        parts = ["diffcoder bench edits"]
        if self.dataset is not None:
            parts.append(f"--dataset {self.dataset} --format {self.format}")
        if tuple(self.profiles) != PROFILES:
            parts.append(" ".join(f"--profile {p}" for p in self.profiles))
        if self.limit is not None:
            parts.append(f"--limit {self.limit}")
        if self.scope != "file":
            parts.append(f"--scope {self.scope}")
        if self.seed:
            parts.append(f"--seed {self.seed}")
        return " ".join(parts)
