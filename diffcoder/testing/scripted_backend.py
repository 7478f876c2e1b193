"""A `GenerationBackend` whose answers come from a script: the real tokenizer of a checkpoint,
progress and cancellation like the engine's, and a record of every call.

Tests of the pipelines, the language server and the evaluation harness use it to pin down what
happens around decoding without depending on what a random model writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from diffcoder.model.backend import BackendInfo, PromptTokenizer
from diffcoder.model.types import (
    CancelFlag,
    DecodeConfig,
    FinishReason,
    GenerationResult,
    SpecialIds,
    StepInfo,
)


@dataclass(frozen=True)
class ScriptedCall:
    """One `generate` call as the backend saw it."""

    prompt_ids: list[int]
    config: DecodeConfig
    draft_ids: list[int] | None
    draft_text: str | None  # the draft decoded, the way an edit's region reaches the model


class ScriptedBackend:
    """Answers `answer(call)` (or a fixed text) after `steps` progress steps of `step_delay` s."""

    def __init__(
        self,
        tokenizer: PromptTokenizer,
        special: SpecialIds,
        answer: str | Callable[[ScriptedCall], str],
        *,
        finish_reason: FinishReason = "stop",
        steps: int = 20,
        step_delay: float = 0.0,
        name: str = "scripted",
        concurrency: int = 1,
    ) -> None:
        self._tokenizer, self._special = tokenizer, special
        self.answer = answer
        self.finish_reason: FinishReason = finish_reason
        self.steps, self.step_delay, self.name = steps, step_delay, name
        self.calls: list[ScriptedCall] = []
        self._concurrency = concurrency  # >1: callers may decode side by side, like a batch

    @classmethod
    def from_checkpoint(cls, path: str | Path, answer, **options) -> ScriptedBackend:
        """The tokenizer and special ids of the checkpoint at `path`; no weights are loaded."""
        import json

        from diffcoder.model.checkpoint_files import load_tokenizer, special_ids

        tokenizer = load_tokenizer(Path(path))
        config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
        return cls(tokenizer, special_ids(tokenizer, config), answer, **options)

    @property
    def tokenizer(self) -> PromptTokenizer:
        return self._tokenizer

    @property
    def special(self) -> SpecialIds:
        return self._special

    @property
    def concurrency(self) -> int:
        return self._concurrency

    def describe(self) -> BackendInfo:
        return BackendInfo(
            summary=f"{self.name} backend (answers from a script)",
            model=self.name,
            device="cpu",
            quant="none",
            dtype="float32",
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
        draft_text = self._tokenizer.decode(draft_ids) if draft_ids else None
        call = ScriptedCall(list(prompt_ids), config, draft_ids, draft_text)
        self.calls.append(call)
        text = self.answer(call) if callable(self.answer) else self.answer
        steps = max(1, min(self.steps, config.max_new_tokens))
        started = time.perf_counter()
        for step in range(steps):
            if cancel is not None and cancel.is_set():
                return GenerationResult(
                    token_ids=[],
                    text="",
                    finish_reason="cancelled",
                    nfe=step,
                    prompt_tokens=len(prompt_ids),
                    prefill_seconds=0.0,
                    decode_seconds=time.perf_counter() - started,
                )
            time.sleep(self.step_delay)
            if on_step is not None:
                committed = config.max_new_tokens * (step + 1) // steps
                on_step(
                    StepInfo(
                        step=step,
                        block=step,
                        committed=committed,
                        max_new_tokens=config.max_new_tokens,
                        nfe=step + 1,
                    )
                )
        return GenerationResult(
            token_ids=self._tokenizer.encode(text, add_special_tokens=False),
            text=text,
            finish_reason=self.finish_reason,
            nfe=steps,
            prompt_tokens=len(prompt_ids),
            prefill_seconds=0.0,
            decode_seconds=time.perf_counter() - started,
        )
