"""`TrainConfig`: every setting of a `diffcoder train` run; the defaults are the demo model's.

Kept free of torch so that building the command line does not load it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from diffcoder.model.types import BLOCK_LENGTH


@dataclass(frozen=True)
class Mixture:
    """What share of the training rows are fill-in-the-middle and instruction edits."""

    fim_share: float = 0.3
    edit_share: float = 0.2

    def __post_init__(self) -> None:
        if min(self.fim_share, self.edit_share) < 0 or self.fim_share + self.edit_share > 1:
            raise ValueError("fim_share and edit_share must be >= 0 and add up to at most 1")


@dataclass(frozen=True)
class TrainConfig:
    out: Path
    steps: int = 2400
    batch: int = 14
    length: int = 320
    hidden: int = 256
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    vocab_size: int = 4096
    learning_rate: float = 2e-3
    lr_warmup_steps: int = 100
    mask_warmup_steps: int = 300
    seed: int = 0
    mixture: Mixture = field(default_factory=Mixture)
    corpus_dir: Path | None = None
    max_files: int | None = None
    heldout_rows: int = 48
    log_every: int = 20
    save_every: int = 200
    time_budget_s: float | None = None  # stop early (and save) after this much training time
    untrained_out: Path | None = None  # also write the untrained twin here
    # Continue from this checkpoint (its tokenizer and architecture; the size fields are ignored):
    # the second, edit- and infill-heavy stage, as SFT follows pre-training upstream.
    init_from: Path | None = None
    stop_after: int | None = None  # stop after this many steps, keeping the schedule of `steps`

    def __post_init__(self) -> None:
        if self.length % BLOCK_LENGTH:
            raise ValueError(f"length must be a multiple of {BLOCK_LENGTH}, not {self.length}")
        if self.steps < 1 or self.batch < 1:
            raise ValueError("steps and batch must be at least 1")
        if self.vocab_size < 512:
            raise ValueError("vocab_size must be at least 512 (128 special tokens + 256 bytes)")
