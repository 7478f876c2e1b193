"""Prompts for the model: instruction edits in the checkpoint's chat format, and fill-in-the-middle.

Token budgets are counted with the tokenizer that encodes the prompt; the file around the region
(or the cursor) is trimmed at line boundaries so prompt + generation fit the model's context.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from itertools import groupby
from typing import Any, Literal, Protocol

from diffcoder.editing.output import (
    REGION_MARKER,
    EditRegion,
    detect_newline,
    fence_for,
    to_lf,
    widen_to_lines,
)
from diffcoder.editing.text_edits import split_lines

DEFAULT_BUDGET = 8192  # the model's context: prompt + generated tokens
GROWTH, HEADROOM = 1.5, 64  # generation budget = GROWTH x region tokens + HEADROOM
ECHO_LINES = 20  # file lines kept beside the region to recognise what the model repeats
FIM_TOKENS = ("<[fim-prefix]>", "<[fim-suffix]>", "<[fim-middle]>")

# LSP languageId -> Markdown fence tag, where they differ; line comments for the markers.
_FENCE_TAGS = {"typescriptreact": "tsx", "javascriptreact": "jsx", "shellscript": "bash"}
_COMMENTS = {
    **dict.fromkeys(("python", "ruby", "shellscript", "perl", "r", "yaml", "toml"), ("# ", "")),
    **dict.fromkeys(("lua", "sql", "haskell"), ("-- ", "")),
    **dict.fromkeys(("html", "xml", "markdown", "vue"), ("<!-- ", " -->")),
}


class PromptTokenizer(Protocol):
    """What the editing layer needs from a tokenizer (a transformers PreTrainedTokenizerFast)."""

    def encode(
        self, text: str, add_special_tokens: bool = False, split_special_tokens: bool = False
    ) -> list[int]: ...

    def apply_chat_template(
        self, conversation: Any, tokenize: bool = False, add_generation_prompt: bool = True
    ) -> Any: ...

    def convert_tokens_to_ids(self, tokens: str) -> Any: ...

    def decode(self, token_ids: list[int]) -> str: ...


class PromptTooLongError(ValueError):
    """The region (or the fixed part of the prompt) alone does not fit the token budget."""


@dataclass(frozen=True)
class EditPrompt:
    """An instruction-edit prompt and what post-processing and decoding need to go with it."""

    prompt_ids: list[int] = field(repr=False)
    prompt_text: str = field(repr=False)
    max_new_tokens: int
    stop_strings: tuple[str, ...]
    draft_text: str  # the answer if nothing changed (region + closing fence): the decoding draft
    draft_ids: list[int] = field(repr=False)  # draft_text encoded as plain text
    region: EditRegion
    region_tokens: int
    context_lines: int  # file lines shown around the region
    omitted_lines: int  # file lines left out to fit the budget


@dataclass(frozen=True)
class FimPrompt:
    """A fill-in-the-middle prompt; the generated middle goes in at `cursor`."""

    prompt_ids: list[int] = field(repr=False)
    prompt_text: str = field(repr=False)
    max_new_tokens: int
    prefix: str  # kept prefix as shown to the model (LF newlines)
    suffix: str
    prefix_start: int  # str offsets of the kept prefix/suffix in the document
    suffix_end: int
    cursor: int
    order: Literal["spm", "psm"]
    newline: str  # the document's newline style, to restore in the inserted text


# Lines worth keeping when the file is trimmed: imports, and signatures of definitions.
_IMPORT = re.compile(
    r"(import\b|from\s+\S+\s+import\b|#\s*include\b|using\s|use\s|package\s|extern\s+crate\b"
    r"|(const|let|var)\s+[\w{}\s,]+=\s*require\()"
)
_SIGNATURE = re.compile(
    r"\s*(@\w|(export\s+)?(default\s+)?(pub(\([^)]*\))?\s+)?(async\s+)?(static\s+)?"
    r"(def|class|function|func|fn|impl|struct|enum|interface|trait|type|module|namespace|mod)\b)"
    # C/Java-style `type name(args) {`: words before the name, so a plain call does not match.
    r"|\s*(?!(if|for|while|switch|return|else|catch|do|case|new|throw|await)\b)[A-Za-z_]"
    r"[\w:<>\[\],*&~]*(\s+[\w:<>\[\],*&~]+)*\s+[*&]*\w+\s*\([^;]*$"
)


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _width(line: str) -> int:
    return len(_indent(line).expandtabs(4))


def _structure(before: list[str], after: list[str], base: int) -> list[tuple[int, int]]:
    """(side, index) of the lines that frame the region: the headers that enclose it (with a
    multi-line signature's opening line and decorators) and the closers below it. Side 0 is
    above the region, side 1 below."""
    picks: list[tuple[int, int]] = []
    level, i = base, len(before) - 1
    while i >= 0 and level > 0:
        line = before[i]
        if line.strip() and _width(line) < level:
            level = _width(line)
            picks.append((0, i))
            if line.lstrip()[:1] in ")]}":
                while i > 0 and not (before[i - 1].strip() and _width(before[i - 1]) == level):
                    i -= 1
                    picks.append((0, i))
                i -= 1
                picks.append((0, max(i, 0)))
            while (
                i > 0 and before[i - 1].lstrip().startswith("@") and _width(before[i - 1]) == level
            ):
                i -= 1
                picks.append((0, i))
        i -= 1
    level = base
    for index, line in enumerate(after):
        if line.strip() and _width(line) < level:
            level = _width(line)
            picks.append((1, index))
    return picks


def _select_context(
    sides: tuple[list[str], list[str]], base: int, cost: Callable[[str], int], allowance: int
) -> tuple[set[int], set[int]]:
    """Indices of the lines above/below the region to show within `allowance` tokens: framing
    lines first, imports (up to a quarter), the nearest lines (above weighted over below), then
    other signatures."""
    keep: tuple[set[int], set[int]] = (set(), set())
    spent = 0

    def take(side: int, index: int, limit: int = allowance) -> bool:
        nonlocal spent
        if index in keep[side]:
            return True
        price = cost(sides[side][index])
        if spent + price > limit:
            return False
        keep[side].add(index)
        spent += price
        return True

    for side, index in _structure(sides[0], sides[1], base):
        take(side, index)
    imports_limit = spent + allowance // 4
    for index, line in enumerate(sides[0]):
        if _IMPORT.match(line):
            take(0, index, imports_limit)
    above, below = len(sides[0]) - 1, 0
    while above >= 0 or below < len(sides[1]):
        distance_above, distance_below = len(sides[0]) - above, 1.5 * (below + 1)
        if above >= 0 and (below >= len(sides[1]) or distance_above <= distance_below):
            above = above - 1 if take(0, above) else -1
        else:
            below = below + 1 if take(1, below) else len(sides[1])
    nearest = sorted(
        [(len(sides[0]) - i, 0, i) for i, line in enumerate(sides[0]) if _SIGNATURE.match(line)]
        + [(i + 1, 1, i) for i, line in enumerate(sides[1]) if _SIGNATURE.match(line)]
    )
    for _, side, index in nearest:
        take(side, index)
    return keep


def _render(lines: list[str], keep: set[int], comment: tuple[str, str]) -> list[str]:
    """Kept lines in order; each run of left-out lines becomes one `...` comment line."""
    out: list[str] = []
    for kept, run in groupby(range(len(lines)), key=keep.__contains__):
        shown = [lines[i] for i in run if kept or lines[i].strip()]
        if kept:
            out += shown
        else:
            indent = min(map(_indent, shown), key=len, default="")
            out.append(f"{indent}{comment[0]}...{comment[1]}" if shown else "")
    return out


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
    budget: int = DEFAULT_BUDGET,
    max_new_tokens: int | None = None,
) -> EditPrompt:
    """A chat prompt asking to rewrite `file_text[region_start:region_end]` (CanItEdit-style).

    The user turn has `## File` (the file around the region, trimmed to the budget, the region
    replaced by one marker comment so it is not paid for twice), `## Code Before` (the region
    verbatim), `## Instruction` and `## Code After` (what to answer); a whole-file region has no
    `## File`. The assistant turn is opened with the code fence, so decoding starts in code and
    stops at the closing fence. Newlines are shown as LF. The region is widened over whitespace
    to whole lines where possible; `EditPrompt.region` holds the offsets actually used.
    """
    if not 0 <= region_start <= region_end <= len(file_text):
        raise ValueError(f"region {region_start}..{region_end} is outside the text")
    if not instruction.strip():
        raise ValueError("the instruction is empty; say what to change")
    encode = partial(tokenizer.encode, add_special_tokens=False, split_special_tokens=True)
    start, end = widen_to_lines(file_text, region_start, region_end)
    pieces = (file_text[:start], file_text[start:end], file_text[end:])
    before, region, after = map(to_lf, pieces)
    *above, head = before.split("\n")  # `head`: code before the region on its first line
    after_lines = after.split("\n")
    starts_line = not (before + region) or (before + region).endswith("\n")
    tail, below = ("", after_lines) if starts_line else (after_lines[0], after_lines[1:])
    if below and below[-1] == "":
        below.pop()  # the file's final newline, not a line
    region_lines = [line for line in (head + region).split("\n") if line.strip()]
    base = min((_width(line) for line in region_lines), default=0)
    comment = _COMMENTS.get(language.lower(), ("// ", ""))
    indent = _indent(region_lines[0]) if region_lines and not head else ""
    marker = f"{indent}{comment[0]}{REGION_MARKER}{comment[1]}" if not (head or tail) else None
    marker = marker or f"{head}{REGION_MARKER}{tail}"
    fence = fence_for(file_text + instruction)  # so nothing shown can close it
    tag = _FENCE_TAGS.get(language.lower(), language.lower())
    whole_file = not (above or below or head or tail)
    chat = _chat_encoder(tokenizer, opening=f"{fence}{tag}\n")

    def render(keep: tuple[set[int], set[int]]) -> tuple[str, list[int]]:
        context = None
        if not whole_file:
            lines = _render(above, keep[0], comment) + [marker] + _render(below, keep[1], comment)
            context = f"{fence}{tag}\n" + "\n".join(lines) + f"\n{fence}"
        code_block = f"{fence}{tag}\n{_line_end(region)}{fence}"
        return chat(_edit_message(instruction, code_block, context, path))

    region_tokens = len(encode(region))
    keep: tuple[set[int], set[int]] = (set(), set())
    text, ids = render(keep)
    wanted = max_new_tokens if max_new_tokens is not None else GROWTH * region_tokens + HEADROOM
    room = budget - len(ids)
    if room < min(wanted, region_tokens + 1):
        raise PromptTooLongError(
            f"the region ({region_tokens} tokens) and instruction need {len(ids)} prompt tokens, "
            f"leaving {room} of the {budget}-token budget to rewrite it; select a smaller region"
        )
    generation = min(math.ceil(wanted), room)
    allowance = room - generation
    cost = lru_cache(maxsize=None)(lambda line: len(encode(line + "\n")))
    while allowance > 0 and not whole_file:
        keep = _select_context((above, below), base, cost, allowance)
        text, ids = render(keep)
        over = len(ids) + generation - budget
        if over <= 0:
            break
        allowance -= over + 8  # elision lines and BPE merges across lines are not in `cost`
    else:
        keep = (set(), set())
        text, ids = render(keep)
    info = EditRegion(
        start, end, file_text[start:end], detect_newline(file_text),
        lines_before=tuple(above[-ECHO_LINES:]), lines_after=tuple(below[:ECHO_LINES]),
        headers=tuple(above[i] for _, i in sorted(set(_structure(above, [], base)))),
        fence=fence, starts_mid_line=bool(head),
    )  # fmt: skip
    shown = len(keep[0]) + len(keep[1])
    draft = _line_end(region) + fence
    return EditPrompt(
        ids, text, generation, (fence,), draft, encode(draft), info, region_tokens,
        context_lines=shown, omitted_lines=len(above) + len(below) - shown,
    )  # fmt: skip


def _fim_token_ids(tokenizer: PromptTokenizer) -> list[int]:
    ids = []
    for token in FIM_TOKENS:
        found = tokenizer.convert_tokens_to_ids(token)
        if not isinstance(found, int) or tokenizer.decode([found]) != token:
            raise ValueError(f"the tokenizer has no {token} token; this checkpoint cannot infill")
        ids.append(found)
    return ids


def build_fim_prompt(
    tokenizer: PromptTokenizer,
    *,
    text: str,
    cursor: int,
    budget: int = DEFAULT_BUDGET,
    max_new_tokens: int = 256,
    order: Literal["spm", "psm"] = "spm",
    prefix_share: float = 0.75,
) -> FimPrompt:
    """Fill-in-the-middle at `cursor`: `<[fim-suffix]>` suffix `<[fim-prefix]>` prefix
    `<[fim-middle]>` ("spm", Seed-Coder's documented order; it also puts all right-hand context
    before the block-causal middle) or prefix first ("psm").

    Prefix and suffix grow line by line away from the cursor, the prefix up to `prefix_share`
    of the room first, then either takes what is left. Text that spells a special token (this
    project's own sources do) is encoded as plain text.
    """
    if order not in ("spm", "psm"):
        raise ValueError(f"order must be 'spm' or 'psm', not {order!r}")
    if not 0 <= cursor <= len(text):
        raise ValueError(f"cursor {cursor} is outside the text (length {len(text)})")
    encode = partial(tokenizer.encode, add_special_tokens=False, split_special_tokens=True)
    prefix_id, suffix_id, middle_id = _fim_token_ids(tokenizer)
    allowance = budget - max_new_tokens - len(FIM_TOKENS)
    if allowance < 0:
        raise PromptTooLongError(f"max_new_tokens={max_new_tokens} leaves no room in {budget}")
    sides = (split_lines(text[:cursor])[::-1], split_lines(text[cursor:]))  # nearest first
    cost = lru_cache(maxsize=None)(lambda line: len(encode(to_lf(line))))
    for _ in range(8):
        counts, spent = [0, 0], 0
        for side, limit in ((0, int(allowance * prefix_share)), (1, allowance), (0, allowance)):
            lines = sides[side]
            while counts[side] < len(lines) and spent + cost(lines[counts[side]]) <= limit:
                spent, counts[side] = spent + cost(lines[counts[side]]), counts[side] + 1
        prefix, suffix = "".join(sides[0][: counts[0]][::-1]), "".join(sides[1][: counts[1]])
        if not counts[0] and sides[0] and allowance >= 3:
            # One line longer than the room (minified code): cut it; a token spans >= 1/3 char.
            prefix = sides[0][0][-(allowance // 3) :]
        prefix_ids, suffix_ids = encode(to_lf(prefix)), encode(to_lf(suffix))
        over = len(prefix_ids) + len(suffix_ids) - allowance
        if over <= 0:
            break
        allowance -= over
    else:
        prefix, suffix, prefix_ids, suffix_ids = "", "", [], []
    pre = ([prefix_id, *prefix_ids], FIM_TOKENS[0] + to_lf(prefix))
    suf = ([suffix_id, *suffix_ids], FIM_TOKENS[1] + to_lf(suffix))
    first, second = (suf, pre) if order == "spm" else (pre, suf)
    return FimPrompt(
        first[0] + second[0] + [middle_id], first[1] + second[1] + FIM_TOKENS[2], max_new_tokens,
        to_lf(prefix), to_lf(suffix),
        prefix_start=cursor - len(prefix), suffix_end=cursor + len(suffix), cursor=cursor,
        order=order, newline=detect_newline(text),
    )  # fmt: skip
