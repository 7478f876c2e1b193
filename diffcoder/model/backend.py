"""The generation-backend interface: everything the pipelines, the language server, the CLI, the
evaluation harness and the benchmarks need from a model, with no torch.

The local engine (`diffcoder.model.engine.DiffusionEngine`) implements it; a remote or batched
backend only has to implement it too, and nothing above the model layer changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from diffcoder.model.types import CancelFlag, DecodeConfig, GenerationResult, SpecialIds, StepInfo


class PromptTokenizer(Protocol):
    """What prompt building needs from a tokenizer (a transformers PreTrainedTokenizerFast)."""

    def encode(
        self, text: str, add_special_tokens: bool = False, split_special_tokens: bool = False
    ) -> list[int]: ...

    def apply_chat_template(
        self, conversation: Any, tokenize: bool = False, add_generation_prompt: bool = True
    ) -> Any: ...

    def convert_tokens_to_ids(self, tokens: str) -> Any: ...

    def decode(self, token_ids: list[int]) -> str: ...


@dataclass(frozen=True)
class BackendInfo:
    """What a backend runs, for people (`summary`) and for reports (the rest)."""

    summary: str  # one line: what was loaded, where, and why that quantization
    model: str  # checkpoint directory (or a server's URL)
    device: str
    quant: str
    dtype: str


class GenerationBackend(Protocol):
    """A model that decodes after a prompt, block by block, with progress and cancellation."""

    @property
    def tokenizer(self) -> PromptTokenizer: ...

    @property
    def special(self) -> SpecialIds: ...

    @property
    def concurrency(self) -> int:
        """How many `generate` calls may run at once from different threads (1: call it from
        one thread at a time). A batching backend shares forwards between them."""
        ...

    def generate(
        self,
        prompt_ids: list[int],
        config: DecodeConfig,
        *,
        draft_ids: list[int] | None = None,
        on_step: Callable[[StepInfo], None] | None = None,
        cancel: CancelFlag | None = None,
    ) -> GenerationResult:
        """Decode after `prompt_ids`; `draft_ids` (fast mode) are verified, never trusted.
        Blocks the calling thread; `cancel` ends it within one forward."""
        ...

    def describe(self) -> BackendInfo: ...


def encode_prompt(tokenizer: PromptTokenizer, text: str, *, chat: bool = False) -> list[int]:
    """Token ids for `text` as typed (no special tokens added); `chat` renders it first as one
    user message with the checkpoint's own template and the generation prompt."""
    if chat:
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError(
                "the checkpoint has no chat_template in tokenizer_config.json; "
                "use a plain prompt (no --chat) or add the family's template"
            )
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
        )
    return tokenizer.encode(text, add_special_tokens=False)
