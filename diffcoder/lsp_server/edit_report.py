"""What an edit tells the person waiting for it: how far it is (a percentage that moves with the
answer), which region it rewrites and why (before decoding), and, when the answer is refused, why
in full and what the model wrote.
"""

from __future__ import annotations

from diffcoder.editing.edit_pipeline import SYNTAX_REFUSAL, EditResult
from diffcoder.editing.edit_prompt import EditPrompt
from diffcoder.editing.output import postprocess_edit
from diffcoder.editing.regions import Region
from diffcoder.lsp_server.documents import DocumentSnapshot

LINEAR_UP_TO = 90  # percent: up to here the bar follows committed / expected tokens


def expected_tokens(prompt: EditPrompt) -> int:
    """How long the answer should be: the edit rewrites the region, then closes the fence."""
    return max(1, prompt.region_tokens + 1)


def edit_percentage(committed: int, expected: int) -> int:
    """The bar while decoding: in step with committed / expected up to 90%, then closing in on 99
    (halving what is left every tenth of `expected` more), so an answer longer than the region
    still moves it. 100 is for the end only (the caller reports it)."""
    expected = max(1, expected)
    linear = 100 * committed / expected
    if linear <= LINEAR_UP_TO:
        return max(0, int(linear))
    over = (committed - expected * LINEAR_UP_TO / 100) / (expected / 10)
    return min(99, LINEAR_UP_TO + round(9 * (1 - 0.5**over)))


def lines_of(doc: DocumentSnapshot, start: int, end: int) -> str:
    """'line 4' or 'lines 4–9' (1-based, as editors show them)."""
    first = doc.position(start).line + 1
    last = doc.position(max(start, end - 1) if end > start else start).line + 1
    return f"line {first}" if first == last else f"lines {first}–{last}"


def region_message(doc: DocumentSnapshot, region: Region) -> str:
    """The region in a few words, then why: 'lines 4–9 (function area): The cursor is …'."""
    what = region.kind if region.name is None else f"{region.kind} {region.name}"
    return f"{lines_of(doc, region.start, region.end)} ({what}): {region.reason}"


def refusal_detail(result: EditResult, doc: DocumentSnapshot, budget: int) -> str:
    """Why a refused answer was not applied, in full, with what to change (`budget`: the token
    budget the answer had)."""
    context = result.prompt.answer_context
    where = lines_of(doc, context.start, context.end)
    if result.finish_reason == "length":
        return (
            f"The model's answer did not end within its budget of {budget} tokens (which grows "
            f"with the region, {result.prompt.region_tokens} tokens, up to edit.maxNewTokens and "
            f"what context.maxTokens leaves), so "
            f"nothing was changed in {where}. The unfinished answer comes with this reply. Select "
            "a smaller region, or raise edit.maxNewTokens."
        )
    if (result.detail or "").startswith(SYNTAX_REFUSAL):
        return (
            f"The model's answer adds syntax errors to {where} that the code there did not have, "
            "so it was not applied (edit.rejectSyntaxErrors is on). The answer comes with this "
            "reply. Try again with a clearer instruction or another selection, or set "
            "edit.rejectSyntaxErrors to false to accept such answers."
        )
    return result.detail or "The model's answer was refused."


def proposal_text(result: EditResult) -> str | None:
    """What the model wrote for the region, for display when its answer was refused: the
    post-processed answer (also when it did not end); None when it changes nothing."""
    written = result.new_region_text
    if result.finish_reason == "length" and result.generation.text:
        written = postprocess_edit(result.generation.text, result.prompt.answer_context)
    return written if written != result.prompt.answer_context.original_text else None
