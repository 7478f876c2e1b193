"""Token budgets: the model's context (prompt and answer together) and the region's share of it.

The context budget is what a prompt builder fits into; the region budget is what region choice
fits into, derived from the context budget in one place (`region_token_budget`).
"""

from __future__ import annotations

DEFAULT_CONTEXT_TOKENS = 8192  # the model's context: prompt + generated tokens

# The region appears in the prompt once and may grow by half in the answer; the file context around
# it and the rest of the prompt get what is left.
REGION_SHARE_OF_CONTEXT = 1 / 4


def region_token_budget(context_tokens: int) -> int:
    """Tokens the region may take when prompt and answer must fit `context_tokens`."""
    return int(context_tokens * REGION_SHARE_OF_CONTEXT)


DEFAULT_REGION_TOKENS = region_token_budget(DEFAULT_CONTEXT_TOKENS)


class PromptTooLongError(ValueError):
    """The region (or the fixed part of the prompt) alone does not fit the context budget."""
