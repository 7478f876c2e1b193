"""Fill-in-the-middle at a cursor: FIM prompt, decoding, and trimming the middle to a sensible stop.

Pure text work around one call of a `GenerationBackend`; the language server's inline completion
and `diffcoder eval infill` go through `run_infill`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from diffcoder.editing.budgets import DEFAULT_CONTEXT_TOKENS
from diffcoder.editing.fim_prompt import FimPrompt, build_fim_prompt
from diffcoder.editing.ghost_stop import StopAt, stop_ghost_text
from diffcoder.model.backend import GenerationBackend
from diffcoder.model.types import (
    DEFAULT_THRESHOLD,
    CancelFlag,
    DecodeConfig,
    GenerationResult,
    StepInfo,
)


@dataclass
class InfillResult:
    prompt: FimPrompt = field(repr=False)
    generation: GenerationResult = field(repr=False)
    text: str  # what to insert at the cursor ("" when nothing usable came back)

    @property
    def finish_reason(self) -> str:
        return self.generation.finish_reason


def trim_middle(
    middle: str, suffix: str, line_head: str = "", stop: Callable[[str], str] | None = None
) -> str:
    """Cut the model's middle where it should stop and drop a tail that repeats the start of the
    suffix, so accepting it does not duplicate code. `stop` cuts it (`ghost_stop`: the end of
    the statement or block); without one, it ends at the end of the block it started (a blank
    line). A middle that starts by rewriting the cursor's line from its beginning (`line_head`,
    the text between the line start and the cursor: models often do) loses that repeated head."""
    middle = middle.replace("\ufffd", "")  # half a multi-byte character at the budget's end
    if line_head and middle.startswith(line_head):
        middle = middle[len(line_head) :]
    if stop is not None:
        middle = stop(middle)
    elif (cut := middle.find("\n\n")) != -1:
        middle = middle[: cut + 1]
    head = suffix.lstrip("\n")[:200]
    for size in range(min(len(middle), len(head)), 0, -1):
        if head.startswith(middle[-size:]) and middle[-size:].strip():
            middle = middle[:-size]
            break
    return middle if middle.strip() else ""


def run_infill(
    backend: GenerationBackend,
    text: str,
    cursor: int,
    *,
    max_new_tokens: int = 64,
    context_tokens: int = DEFAULT_CONTEXT_TOKENS,
    threshold: float | None = DEFAULT_THRESHOLD,
    on_step: Callable[[StepInfo], None] | None = None,
    cancel: CancelFlag | None = None,
    stop_at: StopAt | None = None,
    language: str | None = None,
) -> InfillResult:
    """The text to insert at `cursor`, decoding once on `backend` (this thread waits for it).
    `stop_at` (the server's `inline.stopAt`) says where the text stops (`ghost_stop`; `language`
    lets it use tree-sitter); None keeps the older rule, the first blank line."""
    prompt = build_fim_prompt(
        backend.tokenizer,
        text=text,
        cursor=cursor,
        context_tokens=context_tokens,
        max_new_tokens=max_new_tokens,
    )
    config = DecodeConfig(max_new_tokens=prompt.max_new_tokens, threshold=threshold)
    generation = backend.generate(prompt.prompt_ids, config, on_step=on_step, cancel=cancel)
    if generation.finish_reason == "cancelled":
        return InfillResult(prompt=prompt, generation=generation, text="")
    line_head = prompt.prefix.rpartition("\n")[2]
    stop = None
    if stop_at is not None:
        stop = partial(stop_ghost_text, text, cursor, stop_at=stop_at, language=language)
    middle = trim_middle(generation.text, prompt.suffix, line_head, stop)
    if prompt.newline != "\n":
        middle = middle.replace("\n", prompt.newline)
    return InfillResult(prompt=prompt, generation=generation, text=middle)
