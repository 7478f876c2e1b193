"""The instruction-edit pipeline: region, prompt, decoding with the region as draft, output, diff.

Pure text work around one call of a `GenerationBackend`; the CLI's `diffcoder edit`, the language
server and the evaluation harness all go through `run_edit`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from diffcoder.editing.budgets import DEFAULT_CONTEXT_TOKENS, region_token_budget
from diffcoder.editing.edit_prompt import EditPrompt, build_edit_prompt
from diffcoder.editing.languages import detect_language
from diffcoder.editing.output import postprocess_edit
from diffcoder.editing.regions import Region, choose_region
from diffcoder.editing.syntax_gate import adds_syntax_errors
from diffcoder.editing.text_edits import (
    Replacement,
    apply_replacements,
    minimal_replacements,
    shift_replacements,
)
from diffcoder.model.backend import GenerationBackend, PromptTokenizer
from diffcoder.model.types import (
    DEFAULT_THRESHOLD,
    CancelFlag,
    DecodeConfig,
    GenerationResult,
    StepInfo,
)

# How a pipeline edit ends: a proposal (possibly no change), refused (the answer adds syntax errors
# or did not end), or cancelled. The language server adds applied, stale and failed.
PipelineOutcome = Literal["proposed", "refused", "cancelled"]
SYNTAX_REFUSAL = "the model's code adds syntax errors"


@dataclass(frozen=True)
class EditRequest:
    text: str
    instruction: str
    language: str | None = None  # LSP languageId or canonical name; else from `path`
    path: str | None = None
    selection: tuple[int, int] | None = None  # str offsets
    cursor: int | None = None
    reject_syntax_errors: bool = True
    use_draft: bool = True
    threshold: float | None = DEFAULT_THRESHOLD
    temperature: float = 0.0
    seed: int = 0
    context_tokens: int = DEFAULT_CONTEXT_TOKENS  # prompt + answer; the region gets a share
    max_new_tokens: int | None = None  # a cap on the answer budget derived from the region's size


@dataclass
class EditResult:
    region: Region
    prompt: EditPrompt = field(repr=False)
    generation: GenerationResult = field(repr=False)
    new_region_text: str
    replacements: list[Replacement]  # str offsets into the request's text
    new_text: str
    outcome: PipelineOutcome
    detail: str | None = None  # why it was refused or cancelled (then there are no replacements)

    @property
    def finish_reason(self) -> str:
        return self.generation.finish_reason

    @property
    def proposed(self) -> bool:
        return self.outcome == "proposed"


def prepare_edit(
    tokenizer: PromptTokenizer, request: EditRequest
) -> tuple[str | None, Region, EditPrompt]:
    """Language, region and prompt for a request (no model involved)."""
    language = detect_language(request.language, request.path)

    def count_tokens(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False))

    region = choose_region(
        request.text,
        language,
        selection=request.selection,
        cursor=request.cursor,
        instruction=request.instruction,
        budget=region_token_budget(request.context_tokens),
        count_tokens=count_tokens,
    )
    prompt = build_edit_prompt(
        tokenizer,
        file_text=request.text,
        region_start=region.start,
        region_end=region.end,
        instruction=request.instruction,
        language=language or request.language or "text",
        path=request.path,
        context_tokens=request.context_tokens,
    )
    return language, region, prompt


def finish_edit(
    request: EditRequest, language: str | None, prompt: EditPrompt, generated_text: str
) -> tuple[str, list[Replacement], str | None]:
    """New region text, file replacements, and a rejection reason (None when kept)."""
    context = prompt.answer_context
    new_region = postprocess_edit(generated_text, context)
    old_region = context.original_text
    if request.reject_syntax_errors and adds_syntax_errors(
        old_region,
        new_region,
        language,
        prefix=request.text[: context.start],
        suffix=request.text[context.end :],
    ):
        return new_region, [], f"{SYNTAX_REFUSAL} (edit.rejectSyntaxErrors)"
    replacements = shift_replacements(minimal_replacements(old_region, new_region), context.start)
    return new_region, replacements, None


def run_edit(
    backend: GenerationBackend,
    request: EditRequest,
    *,
    on_step: Callable[[StepInfo], None] | None = None,
    cancel: CancelFlag | None = None,
    prepared: tuple[str | None, Region, EditPrompt] | None = None,
) -> EditResult:
    """The whole edit, decoding once on `backend` (this thread waits for it). `prepared` is
    `prepare_edit`'s result for this request when the caller already has it."""
    language, region, prompt = prepared or prepare_edit(backend.tokenizer, request)
    limit = prompt.max_new_tokens
    if request.max_new_tokens is not None:
        limit = min(limit, request.max_new_tokens)
    config = DecodeConfig(
        max_new_tokens=limit,
        threshold=request.threshold,
        temperature=request.temperature,
        seed=request.seed,
        stop_strings=prompt.stop_strings,
    )
    generation = backend.generate(
        prompt.prompt_ids,
        config,
        draft_ids=prompt.draft_ids if request.use_draft else None,
        on_step=on_step,
        cancel=cancel,
    )
    unchanged = {
        "region": region,
        "prompt": prompt,
        "generation": generation,
        "new_region_text": prompt.answer_context.original_text,
        "replacements": [],
        "new_text": request.text,
    }
    if generation.finish_reason == "cancelled":
        return EditResult(**unchanged, outcome="cancelled", detail="cancelled")
    if generation.finish_reason == "length":
        detail = f"the answer did not end within {config.max_new_tokens} tokens"
        return EditResult(**unchanged, outcome="refused", detail=detail)
    new_region, replacements, refusal = finish_edit(request, language, prompt, generation.text)
    return EditResult(
        region=region,
        prompt=prompt,
        generation=generation,
        new_region_text=new_region,
        replacements=replacements,
        new_text=apply_replacements(request.text, replacements),
        outcome="proposed" if refusal is None else "refused",
        detail=refusal,
    )
