"""The local engine: a loaded checkpoint behind the generation-backend interface.

`load_engine` is the one way to load one; the CLI, the language server, the evaluation harness and
the benchmarks all decode through `DiffusionEngine.generate` (see `diffcoder.model.backend`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from diffcoder.model.backend import BackendInfo, PromptTokenizer
from diffcoder.model.embedded import is_demo_model
from diffcoder.model.loading import LoadedModel, load_model
from diffcoder.model.runtime import BlockDiffusionLM
from diffcoder.model.sampler import generate
from diffcoder.model.types import (
    CancelFlag,
    DecodeConfig,
    GenerationResult,
    LoadOptions,
    SpecialIds,
    StepInfo,
)


class DiffusionEngine:
    """A `GenerationBackend` decoding on this machine's CPU or GPU, one request at a time."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.model = loaded.model

    @property
    def tokenizer(self) -> PromptTokenizer:
        return self.loaded.tokenizer

    @property
    def special(self) -> SpecialIds:
        return self.loaded.special

    @property
    def concurrency(self) -> int:
        return 1  # one request at a time; the batching scheduler shares forwards

    def describe(self) -> BackendInfo:
        loaded = self.loaded
        summary = loaded.reason
        if is_demo_model(loaded.path):
            summary = f"demo model: {summary}"
        return BackendInfo(
            summary=summary,
            model=str(loaded.path),
            device=str(loaded.device),
            quant=loaded.quant,
            dtype=str(loaded.dtype).removeprefix("torch."),
        )

    def decode(self, token_ids: list[int]) -> str:
        return self.loaded.tokenizer.decode(
            token_ids, skip_special_tokens=False, clean_up_tokenization_spaces=False
        )

    def generate(
        self,
        prompt_ids: list[int],
        config: DecodeConfig,
        *,
        draft_ids: list[int] | None = None,
        on_step: Callable[[StepInfo], None] | None = None,
        cancel: CancelFlag | None = None,
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


def load_engine(path: str | Path, options: LoadOptions | None = None) -> DiffusionEngine:
    """Load the checkpoint at `path`; never executes code from it."""
    options = options or LoadOptions()
    return DiffusionEngine(
        load_model(
            path,
            device=options.device,
            quant=options.quant,
            dtype=options.dtype,
            special_overrides=options.special_overrides,
            progress_bars=options.progress_bars,
        )
    )
