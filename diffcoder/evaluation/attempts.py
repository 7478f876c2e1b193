"""What `diffcoder eval edit` asks of an edit backend and what it answers: the target of an edit,
the `EditAttempt` it left, and the `EditBackend` protocol that `backends` implements.

Light to import: the command line reads `BACKENDS` and `BackendUnavailable` from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

BACKENDS = ("direct", "lsp")  # the values of `--via`


class BackendUnavailable(RuntimeError):
    """The requested `--via` backend cannot run here (no model, a server that did not start)."""


@dataclass(frozen=True)
class EditTarget:
    selection: tuple[int, int] | None  # str offsets
    cursor: int | None


@dataclass(frozen=True)
class EditAttempt:
    """One edit the harness asked for: the program it left and the figures of its decoding."""

    new_text: str
    rejected: str | None
    finish_reason: str
    region_kind: str
    nfe: int
    generated_tokens: int
    tokens_per_forward: float
    seconds: float  # wall clock of the whole edit request, as a user waits for it
    draft_accepted_tokens: int = 0
    model_seconds: float = 0.0  # prefill + decoding, as the engine measured it
    forwards_per_token: float = 0.0  # NFE / generated tokens: 1.0 is autoregressive decoding
    draft_accepted_share: float = 0.0  # the share of generated tokens the draft supplied
    oracle: dict[str, Any] | None = None  # `--oracle`: what the oracle answered and why

    @classmethod
    def from_stats(
        cls,
        stats: Mapping[str, Any],
        *,
        new_text: str,
        rejected: str | None,
        region_kind: str,
        seconds: float,
    ) -> EditAttempt:
        """From `GenerationResult.stats()`'s keys (snake_case)."""
        return cls(
            new_text=new_text,
            rejected=rejected,
            finish_reason=str(stats["finish_reason"]),
            region_kind=region_kind,
            nfe=int(stats["nfe"]),
            generated_tokens=int(stats["generated_tokens"]),
            tokens_per_forward=float(stats["tokens_per_forward"]),
            seconds=seconds,
            draft_accepted_tokens=int(stats.get("draft_accepted_tokens", 0)),
            model_seconds=float(stats.get("model_seconds", 0.0)),
            forwards_per_token=float(stats.get("forwards_per_token", 0.0)),
            draft_accepted_share=float(stats.get("draft_accepted_share", 0.0)),
        )


class EditBackend(Protocol):
    name: str

    def edit(
        self, text: str, instruction: str, target: EditTarget, *, temperature: float, seed: int
    ) -> EditAttempt: ...

    def close(self) -> None: ...
