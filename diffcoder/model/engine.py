"""A loaded checkpoint ready to decode: prompt encoding, the sampler, and text decoding.

The CLI, the benchmarks and the worker thread all go through this one object.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from diffcoder.model.embedded import is_demo_model
from diffcoder.model.loading import LoadedModel, load_model
from diffcoder.model.runtime import BlockDiffusionLM
from diffcoder.model.sampler import CancelFlag, DecodeConfig, GenerationResult, StepInfo, generate


class DiffusionEngine:
    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.special = loaded.special

    @classmethod
    def from_path(cls, path: str | Path, **load_options) -> DiffusionEngine:
        return cls(load_model(path, **load_options))

    def describe(self) -> str:
        if is_demo_model(self.loaded.path):
            return f"demo model: {self.loaded.reason}"
        return self.loaded.reason

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """The checkpoint's own chat template, rendered to text with the generation prompt."""
        if not getattr(self.tokenizer, "chat_template", None):
            raise ValueError(
                f"{self.loaded.path} has no chat_template in tokenizer_config.json; "
                "use a plain prompt (no --chat) or add the family's template"
            )
        return self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )

    def encode(self, text: str, *, chat: bool = False) -> list[int]:
        """Token ids for `text`; special tokens are never added again (the template has them)."""
        if chat:
            text = self.render_chat([{"role": "user", "content": text}])
        return self.tokenizer.encode(text, add_special_tokens=False)

    def decode(self, token_ids: list[int]) -> str:
        return self.tokenizer.decode(
            token_ids, skip_special_tokens=False, clean_up_tokenization_spaces=False
        )

    def generate(
        self,
        prompt_ids: list[int],
        config: DecodeConfig,
        *,
        on_step: Callable[[StepInfo], None] | None = None,
        cancel: CancelFlag | None = None,
        draft_ids: list[int] | None = None,
    ) -> GenerationResult:
        """Decode after `prompt_ids`; `draft_ids` (fast mode) are verified, never trusted."""
        lm = BlockDiffusionLM(self.model, config.block_length)
        return generate(
            lm,
            prompt_ids,
            config,
            self.special,
            decode=self.decode,
            on_step=on_step,
            cancel=cancel,
            draft=draft_ids,
        )
