"""What a decoding request and its answer look like, with no torch: the decode settings, the
per-step progress record, the result and its statistics, the special ids and the load options.

Everything above the model layer (editing pipelines, the language server, the CLI) speaks these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

Mode = Literal["parity", "fast"]
FinishReason = Literal["eos", "stop", "length", "cancelled"]
Quant = Literal["auto", "none", "8bit", "4bit"]
QUANT_CHOICES: tuple[str, ...] = ("auto", "none", "8bit", "4bit")
DTYPE_CHOICES: tuple[str, ...] = ("float32", "bfloat16", "float16")

# Commit every position whose confidence reaches this (docs/decoding.md explains the choice).
DEFAULT_THRESHOLD = 0.95
BLOCK_LENGTH = 4  # Stable-DiffCoder's training block size


class ModelLoadError(ValueError):
    """A checkpoint or environment problem; the message says how to fix it."""


class CancelFlag(Protocol):
    """Checked once per denoising step (a `threading.Event` is one)."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class DecodeConfig:
    """How to decode. `threshold=None` selects fixed mode (`steps_per_block` commits per block)."""

    max_new_tokens: int = 256
    block_length: int = BLOCK_LENGTH
    steps_per_block: int | None = None
    threshold: float | None = DEFAULT_THRESHOLD
    temperature: float = 0.0
    mode: Mode = "fast"
    stop_strings: tuple[str, ...] = ()
    seed: int = 0
    draft_window: int = 16  # blocks verified per forward at first; adapts between 1 and max
    max_draft_window: int = 16

    def __post_init__(self) -> None:
        if self.mode not in ("parity", "fast"):
            raise ValueError(f"mode must be 'parity' or 'fast', not {self.mode!r}")
        if self.block_length < 1 or self.max_new_tokens < 1:
            raise ValueError("block_length and max_new_tokens must be at least 1")
        if self.steps_per_block is not None and self.steps_per_block < 1:
            raise ValueError("steps_per_block must be at least 1")
        if self.threshold is not None and not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1] or None, not {self.threshold}")
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if not 1 <= self.draft_window <= self.max_draft_window:
            raise ValueError("need 1 <= draft_window <= max_draft_window")
        if self.mode == "parity":
            if self.max_new_tokens % self.block_length:
                raise ValueError(
                    "parity mode needs max_new_tokens to be a multiple of block_length "
                    f"({self.max_new_tokens} % {self.block_length} != 0); use --mode fast"
                )
            if self.stop_strings:
                raise ValueError("parity mode stops only at EOS, as upstream; use --mode fast")

    @property
    def fixed_steps(self) -> int:
        return self.steps_per_block or self.block_length

    @property
    def upstream_steps(self) -> int:
        """Upstream's `steps` argument for the same schedule (fixed mode)."""
        return self.fixed_steps * self.max_new_tokens // self.block_length


@dataclass(frozen=True)
class StepInfo:
    """What one denoising step left behind (passed to the per-step callback)."""

    step: int
    block: int
    committed: int
    max_new_tokens: int
    nfe: int


@dataclass
class GenerationResult:
    token_ids: list[int]
    text: str
    finish_reason: FinishReason
    nfe: int  # forwards after the prefill
    prompt_tokens: int
    prefill_seconds: float
    decode_seconds: float
    draft_accepted_tokens: int = 0

    @classmethod
    def cancelled_before_start(cls, prompt_tokens: int) -> GenerationResult:
        """The answer for a request cancelled before its first forward."""
        return cls(
            token_ids=[],
            text="",
            finish_reason="cancelled",
            nfe=0,
            prompt_tokens=prompt_tokens,
            prefill_seconds=0.0,
            decode_seconds=0.0,
        )

    @property
    def tokens_per_forward(self) -> float:
        return len(self.token_ids) / self.nfe if self.nfe else 0.0

    @property
    def forwards_per_token(self) -> float:
        """Forwards per generated token: 1.0 is autoregressive decoding's cost."""
        return self.nfe / len(self.token_ids) if self.token_ids else 0.0

    @property
    def draft_accepted_share(self) -> float:
        """The share of the generated tokens that draft verification accepted."""
        return min(self.draft_accepted_tokens / len(self.token_ids), 1.0) if self.token_ids else 0.0

    @property
    def model_seconds(self) -> float:
        return self.prefill_seconds + self.decode_seconds

    def stats(self) -> dict[str, Any]:
        """The figures every report shows (snake_case; the LSP replies rename them)."""
        return {
            "finish_reason": self.finish_reason,
            "generated_tokens": len(self.token_ids),
            "prompt_tokens": self.prompt_tokens,
            "nfe": self.nfe,
            "tokens_per_forward": round(self.tokens_per_forward, 4),
            "forwards_per_token": round(self.forwards_per_token, 4),
            "draft_accepted_tokens": self.draft_accepted_tokens,
            "draft_accepted_share": round(self.draft_accepted_share, 4),
            "prefill_seconds": round(self.prefill_seconds, 6),
            "decode_seconds": round(self.decode_seconds, 6),
            "model_seconds": round(self.model_seconds, 6),
        }


@dataclass(frozen=True)
class SpecialIds:
    """Token ids the sampler and prompt builder need, read from the checkpoint's tokenizer."""

    mask: int
    eos: int
    pad: int
    bos: int | None
    fim_prefix: int | None
    fim_suffix: int | None
    fim_middle: int | None
    # Ids the sampler must never emit: added specials except EOS, plus the head's padding rows.
    banned: frozenset[int]


@dataclass(frozen=True)
class LoadOptions:
    """How to load a checkpoint: `auto` picks the device, dtype and quantization.
    `progress_bars=False` keeps transformers' weight-loading bar off stderr (the language
    server logs to its own file; the CLI shows it only on a terminal)."""

    device: str = "auto"
    quant: str = "auto"
    dtype: str | None = None  # None: bf16 (fp16 without bf16) on a GPU, fp32 on every CPU
    special_overrides: dict[str, int] | None = None
    progress_bars: bool = True
