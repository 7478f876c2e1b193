"""Fill-in-the-middle prompts: the text before and after a cursor around the FIM tokens.

Prefix and suffix are trimmed at line boundaries, counted with the tokenizer that encodes them, so
prompt and middle fit the context budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Literal

from diffcoder.editing.budgets import DEFAULT_CONTEXT_TOKENS, PromptTooLongError
from diffcoder.editing.output import detect_newline, to_lf
from diffcoder.editing.text_edits import split_lines
from diffcoder.model.backend import PromptTokenizer

FIM_TOKENS = ("<[fim-prefix]>", "<[fim-suffix]>", "<[fim-middle]>")
# Rounds of measuring the encoded prefix and suffix and shrinking by the overshoot (BPE merges
# across lines make the per-line costs inexact) before giving up on context.
_FIT_ROUNDS = 8


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
    context_tokens: int = DEFAULT_CONTEXT_TOKENS,
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
    allowance = context_tokens - max_new_tokens - len(FIM_TOKENS)
    if allowance < 0:
        raise PromptTooLongError(
            f"max_new_tokens={max_new_tokens} leaves no room in {context_tokens}"
        )
    sides = (split_lines(text[:cursor])[::-1], split_lines(text[cursor:]))  # nearest first
    cost = lru_cache(maxsize=None)(lambda line: len(encode(to_lf(line))))
    for _ in range(_FIT_ROUNDS):
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
        prompt_ids=first[0] + second[0] + [middle_id],
        prompt_text=first[1] + second[1] + FIM_TOKENS[2],
        max_new_tokens=max_new_tokens,
        prefix=to_lf(prefix),
        suffix=to_lf(suffix),
        prefix_start=cursor - len(prefix),
        suffix_end=cursor + len(suffix),
        cursor=cursor,
        order=order,
        newline=detect_newline(text),
    )
