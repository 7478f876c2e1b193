"""Instruction-edit prompts in the checkpoint's chat format (CanItEdit-style sections).

Token budgets are counted with the tokenizer that encodes the prompt; the file around the region is
trimmed at line boundaries (`file_context`) so prompt and answer fit the context budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial

from diffcoder.editing.budgets import (
    DEFAULT_CONTEXT_TOKENS,
    PromptTooLongError,
    answer_headroom,
    check_instruction,
)
from diffcoder.editing.file_context import Kept, RegionLayout, render_context, select_context
from diffcoder.editing.output import (
    REGION_MARKER,
    AnswerContext,
    detect_newline,
    fence_for,
    widen_to_lines,
)
from diffcoder.model.backend import PromptTokenizer

GROWTH = 1.5  # answer budget = GROWTH x region tokens + answer_headroom(context budget)
ECHO_LINES = 20  # file lines kept beside the region to recognise what the model repeats
# Elision lines and BPE merges across lines are not in the per-line costs: the margin each retry
# takes off on top of the measured overshoot.
RETRY_MARGIN = 8

# LSP languageId -> Markdown fence tag, where they differ; line comments for the markers.
_FENCE_TAGS = {"typescriptreact": "tsx", "javascriptreact": "jsx", "shellscript": "bash"}
_COMMENTS = {
    **dict.fromkeys(("python", "ruby", "shellscript", "perl", "r", "yaml", "toml"), ("# ", "")),
    **dict.fromkeys(("lua", "sql", "haskell"), ("-- ", "")),
    **dict.fromkeys(("html", "xml", "markdown", "vue"), ("<!-- ", " -->")),
}
_NO_CONTEXT: Kept = (frozenset(), frozenset())


@dataclass(frozen=True)
class EditPrompt:
    """An instruction-edit prompt and what post-processing and decoding need to go with it."""

    prompt_ids: list[int] = field(repr=False)
    prompt_text: str = field(repr=False)
    max_new_tokens: int
    stop_strings: tuple[str, ...]
    draft_text: str  # the answer if nothing changed (region + closing fence): the decoding draft
    draft_ids: list[int] = field(repr=False)  # draft_text encoded as plain text
    answer_context: AnswerContext
    region_tokens: int
    context_lines: int  # file lines shown around the region
    omitted_lines: int  # file lines left out to fit the budget


_SLOT = "\x00diffcoder-user-turn\x00"
_Encoded = tuple[str, list[int]]


def _chat_encoder(tokenizer: PromptTokenizer, opening: str) -> Callable[[str], _Encoded]:
    """Render a user turn with the checkpoint's own template, followed by the opened answer, and
    encode it without adding special tokens again. The template's text is encoded as is; the
    user's content with special tokens split, so a file that spells `<[end▁of▁sentence]>` stays
    plain text. A template that rewrites the content gets its rendering encoded whole."""
    encode = partial(tokenizer.encode, add_special_tokens=False)

    def render(content: str) -> str:
        chat = [{"role": "user", "content": content}]
        return tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)

    head, found, tail = (render(_SLOT) + opening).partition(_SLOT)

    def chat(content: str) -> _Encoded:
        text = render(content) + opening
        if not found or text != head + content + tail:
            return text, encode(text)
        return text, encode(head) + encode(content, split_special_tokens=True) + encode(tail)

    return chat


def _edit_message(instruction: str, code_block: str, context: str | None, path: str | None) -> str:
    name = f"`{path}`" if path else "the file"
    header = f"## File: {name}" if path else "## File"
    parts = [f"{header}\n{context}\n"] if context is not None else []
    parts += [f"## Code Before\n{code_block}\n", f"## Instruction\n{instruction.strip()}\n"]
    if context is None:
        ask = "the complete new code"
    else:
        ask = f"the complete new Code Before (the part of {name} marked `{REGION_MARKER}`)"
    parts.append(f"## Code After\nAnswer with one fenced code block holding {ask}, nothing else.")
    return "\n".join(parts)


@dataclass(frozen=True)
class _Sizes:
    """What an edit prompt that does not fit is made of, in tokens, and what to shorten."""

    instruction: int
    region: int
    answer: int  # the least answer the region needs
    over: int  # tokens more than the context holds

    def explain(self, context: int, instruction_chars: int) -> str:
        over = f"{self.over} tokens more than the {context}-token context holds"
        # What shortening each can save: down to one token of instruction, or a one-token region
        # (its answer then needs two).
        by_instruction = self.instruction - 1 >= self.over
        by_region = (self.region - 1) + (self.answer - 2) >= self.over
        if by_instruction and (self.instruction >= self.region or not by_region):
            chars = math.ceil(self.over * instruction_chars / self.instruction)
            return (
                f"the instruction is too long: {self.instruction} tokens; with the "
                f"{self.region}-token region, the prompt and its answer need {over}; shorten "
                f"the instruction by at least {self.over} tokens (about {chars} characters)"
            )
        if by_region:
            return (
                f"the region is too large: {self.region} tokens; with the {self.instruction}-token "
                f"instruction, the prompt and its answer need {over}; select a smaller region"
            )
        if (self.instruction - 1) + (self.region - 1) + (self.answer - 2) >= self.over:
            return (
                f"the instruction ({self.instruction} tokens) and the region ({self.region} "
                f"tokens) together need {over}; shorten the instruction and select a smaller region"
            )
        return (
            f"the {context}-token context is too small for an edit prompt (even a one-token "
            "instruction and region would not fit); raise the context budget"
        )


def _line_end(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def build_edit_prompt(
    tokenizer: PromptTokenizer,
    *,
    file_text: str,
    region_start: int,
    region_end: int,
    instruction: str,
    language: str,
    path: str | None = None,
    context_tokens: int = DEFAULT_CONTEXT_TOKENS,
    max_new_tokens: int | None = None,
) -> EditPrompt:
    """A chat prompt asking to rewrite `file_text[region_start:region_end]` (CanItEdit-style).

    The user turn has `## File` (the file around the region, trimmed to the budget, the region
    replaced by one marker comment so it is not paid for twice), `## Code Before` (the region
    verbatim), `## Instruction` and `## Code After` (what to answer); a whole-file region has no
    `## File`. The assistant turn is opened with the code fence, so decoding starts in code and
    stops at the closing fence. Newlines are shown as LF. The region is widened over whitespace
    to whole lines where possible; `EditPrompt.answer_context` holds the offsets actually used.
    """
    if not 0 <= region_start <= region_end <= len(file_text):
        raise ValueError(f"region {region_start}..{region_end} is outside the text")
    check_instruction(instruction, context_tokens)
    encode = partial(tokenizer.encode, add_special_tokens=False, split_special_tokens=True)
    start, end = widen_to_lines(file_text, region_start, region_end)
    layout = RegionLayout.around(file_text, start, end)
    language = language.lower()
    comment = _COMMENTS.get(language, ("// ", ""))
    fence = fence_for(file_text + instruction)  # so nothing shown can close it
    opening = f"{fence}{_FENCE_TAGS.get(language, language)}\n"
    chat = _chat_encoder(tokenizer, opening)

    def render(keep: Kept) -> _Encoded:
        context = None
        if not layout.whole_file:
            context = opening + render_context(layout, keep, comment) + f"\n{fence}"
        code_block = f"{opening}{_line_end(layout.region)}{fence}"
        return chat(_edit_message(instruction, code_block, context, path))

    region_tokens = len(encode(layout.region))
    fixed = len(render(_NO_CONTEXT)[1])
    wanted = max_new_tokens
    if wanted is None:
        wanted = GROWTH * region_tokens + answer_headroom(context_tokens)
    room = context_tokens - fixed
    need = min(wanted, region_tokens + 1)  # the shortest answer worth decoding
    if room < need:
        sizes = _Sizes(len(encode(instruction.strip())), region_tokens, need, need - room)
        raise PromptTooLongError(sizes.explain(context_tokens, len(instruction.strip())))
    generation = min(math.ceil(wanted), room)
    cost = lru_cache(maxsize=None)(lambda line: len(encode(line + "\n")))
    keep, (text, ids) = _fit_context(
        layout, render, cost, allowance=room - generation, limit=context_tokens - generation
    )
    shown = len(keep[0]) + len(keep[1])
    draft = _line_end(layout.region) + fence
    context = AnswerContext(
        start=start,
        end=end,
        original_text=file_text[start:end],
        newline=detect_newline(file_text),
        lines_before=layout.above[-ECHO_LINES:],
        lines_after=layout.below[:ECHO_LINES],
        headers=layout.headers(),
        fence=fence,
        starts_mid_line=bool(layout.head),
    )
    return EditPrompt(
        prompt_ids=ids,
        prompt_text=text,
        max_new_tokens=generation,
        stop_strings=(fence,),
        draft_text=draft,
        draft_ids=encode(draft),
        answer_context=context,
        region_tokens=region_tokens,
        context_lines=shown,
        omitted_lines=len(layout.above) + len(layout.below) - shown,
    )


def _fit_context(
    layout: RegionLayout,
    render: Callable[[Kept], _Encoded],
    cost: Callable[[str], int],
    *,
    allowance: int,
    limit: int,
) -> tuple[Kept, _Encoded]:
    """The most file context whose rendered prompt stays within `limit` tokens: lines are chosen
    by per-line costs within `allowance`, and the allowance shrinks by each overshoot."""
    while allowance > 0 and not layout.whole_file:
        keep = select_context(layout, cost, allowance)
        text, ids = render(keep)
        over = len(ids) - limit
        if over <= 0:
            return keep, (text, ids)
        allowance -= over + RETRY_MARGIN
    return _NO_CONTEXT, render(_NO_CONTEXT)
