"""Token budgets: the model's context (prompt and answer together) and the region's share of it.

The context budget is what a prompt builder fits into; the region budget is what region choice
fits into, derived from the context budget in one place (`region_token_budget`).
"""

from __future__ import annotations

import math

DEFAULT_CONTEXT_TOKENS = 8192  # the model's context: prompt + generated tokens

# The region appears in the prompt once and may grow by half in the answer; the file context around
# it and the rest of the prompt get what is left.
REGION_SHARE_OF_CONTEXT = 1 / 4


def region_token_budget(context_tokens: int) -> int:
    """Tokens the region may take when prompt and answer must fit `context_tokens`."""
    return int(context_tokens * REGION_SHARE_OF_CONTEXT)


DEFAULT_REGION_TOKENS = region_token_budget(DEFAULT_CONTEXT_TOKENS)

# Room in the answer for code an edit adds (a new function or method), on top of the region's own
# growth: a sixteenth of the context, at least MIN_ANSWER_HEADROOM. The gold-answer oracle
# (`diffcoder eval edit --oracle`) found a flat 64 too small: 14 of EditEval's 194 gold answers
# did not fit (a 21-token function whose gold is 97 tokens, an 83-token one that becomes 453).
ANSWER_HEADROOM_SHARE = 1 / 16
MIN_ANSWER_HEADROOM = 64


def answer_headroom(context_tokens: int) -> int:
    """Tokens an edit's answer may add beyond the region's growth (512 of an 8192 context)."""
    return max(MIN_ANSWER_HEADROOM, int(context_tokens * ANSWER_HEADROOM_SHARE))


# No token of Stable-DiffCoder's vocabulary spans more characters (its longest is 512 spaces; the
# demo model's is 55): an instruction of more than this many characters per context token cannot
# fit, whatever it says. A bound for checks that have no tokenizer at hand; it never refuses an
# instruction that fits.
MAX_CHARS_PER_TOKEN = 512


class PromptTooLongError(ValueError):
    """The instruction, the region or both do not fit the context budget (the message says which
    and by how many tokens)."""


def check_instruction(instruction: str, context_tokens: int = DEFAULT_CONTEXT_TOKENS) -> None:
    """The checks of an instruction that need no tokenizer, so they can run before a model loads:
    it says something, and it is not longer than any tokenizer could fit in the context."""
    text = instruction.strip()
    if not text:
        raise ValueError("the instruction is empty; say what to change")
    floor = math.ceil(len(text) / MAX_CHARS_PER_TOKEN)
    if floor >= context_tokens:
        raise PromptTooLongError(
            f"the instruction is too long: {len(text)} characters are at least {floor} tokens, "
            f"more than the whole {context_tokens}-token context the prompt and the answer share; "
            f"shorten it by at least {len(text) - (context_tokens - 1) * MAX_CHARS_PER_TOKEN} "
            "characters (by far more in practice)"
        )
