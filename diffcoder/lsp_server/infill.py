"""Inline infill: the text to insert at the cursor, as `textDocument/inlineCompletion` items (and
a `textDocument/completion` fallback).

Debounced per request; a newer infill for the same document cancels the older one (the job
registry does), whose answer is then empty rather than an error. The text stops at the end of the
statement or block (`inline.stopAt`, editing/ghost_stop.py). With the suggest widget open, VS
Code sends the selected item (`context.selectedCompletionInfo`) and shows only ghost text that
extends it over the same range: the model then infills after the selected text, and the item
replaces that range with the selected text plus the infill.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from diffcoder.editing.infill_pipeline import run_infill
from diffcoder.editing.languages import detect_language
from diffcoder.lsp_server.context import RequestContext
from diffcoder.lsp_server.documents import DocumentSnapshot, RequestFailed, snapshot
from diffcoder.lsp_server.protocol import InfillStats

logger = logging.getLogger(__name__)
MODEL_WAIT_S = 2.0  # typing must not queue behind a model load: a quick "nothing" is better


@dataclass(frozen=True)
class Infill:
    """What replaces `cursor`..`end` of `doc` ("" when there is nothing to offer); `end` is past
    the cursor only when the text extends the suggest widget's selected item."""

    doc: DocumentSnapshot | None
    cursor: int
    text: str
    stats: InfillStats | None  # None when nothing was decoded
    end: int | None = None  # None: the cursor

    @classmethod
    def nothing(cls, stats: InfillStats | None = None) -> Infill:
        return cls(doc=None, cursor=0, text="", stats=stats)


def selected_item(
    doc: DocumentSnapshot, cursor: int, selected: types.SelectedCompletionInfo | None
) -> tuple[int, int, str] | None:
    """(start, end, text) of the suggest widget's selected item when it can be extended: a
    range on the cursor's line that holds the cursor; else None (the infill ignores it)."""
    if selected is None:
        return None
    try:
        start = doc.offset(selected.range.start, "selectedCompletionInfo.range.start")
        end = doc.offset(selected.range.end, "selectedCompletionInfo.range.end")
    except JsonRpcInvalidParams as error:
        logger.info("ignored the selected completion item: %s", error.message)
        return None
    line = doc.position(cursor).line
    if not start <= cursor <= end or doc.position(start).line != line or "\x00" in selected.text:
        logger.info("ignored the selected completion item: its range does not hold the cursor")
        return None
    return start, end, selected.text


async def infill(
    ctx: RequestContext,
    uri: str,
    position: types.Position,
    selected: types.SelectedCompletionInfo | None = None,
) -> Infill:
    """Decode the middle at `position` after the debounce (after `selected`'s text when the
    suggest widget has an item selected). What typing cannot fix (no model, a document that is
    not open, too large or binary) is "nothing", logged; a position outside the document is the
    client's mistake: InvalidParams."""
    settings = ctx.settings
    started = time.perf_counter()
    with ctx.jobs.track("infill", ctx.request_id, uri) as job:
        try:
            await asyncio.sleep(settings.inline.debounce_ms / 1000)
            if job.cancelled:
                return Infill.nothing()
            doc = snapshot(ctx.workspace, uri)
            cursor = doc.offset(position, "position")
            start, end, lead = selected_item(doc, cursor, selected) or (cursor, cursor, "")
            engine = await ctx.model.acquire(MODEL_WAIT_S)
            result = await ctx.jobs.run(
                job,
                run_infill,
                engine,
                doc.text[:start] + lead + doc.text[end:],
                start + len(lead),
                max_new_tokens=settings.inline.max_new_tokens,
                context_tokens=settings.context.max_tokens,
                threshold=settings.edit.threshold,
                stop_at=settings.inline.stop_at,
                language=detect_language(doc.language_id, doc.path),
            )
        except RequestFailed as error:
            logger.info("no infill for %s: %s", uri, error.message)
            return Infill.nothing()
        except ValueError as error:  # e.g. a checkpoint without FIM tokens
            logger.warning("no infill for %s: %s", uri, error)
            return Infill.nothing()
    stats = InfillStats.of(result.generation.stats(), time.perf_counter() - started)
    if job.cancelled or not result.text:
        return Infill.nothing(stats)
    return Infill(doc=doc, cursor=start, text=lead + result.text, stats=stats, end=end)


def inline_items(found: Infill) -> types.InlineCompletionList:
    if found.doc is None or not found.text:
        return types.InlineCompletionList(items=[])
    end = found.cursor if found.end is None else found.end
    where = found.doc.range(found.cursor, end)
    return types.InlineCompletionList(
        items=[types.InlineCompletionItem(insert_text=found.text, range=where)]
    )


def completion_items(found: Infill) -> types.CompletionList:
    doc, cursor, text = found.doc, found.cursor, found.text
    if doc is None or not text:
        return types.CompletionList(is_incomplete=True, items=[])
    first = text.strip().splitlines()[0] if text.strip() else text
    item = types.CompletionItem(
        label=first[:60],
        kind=types.CompletionItemKind.Snippet,
        detail="DiffCoder infill",
        text_edit=types.TextEdit(range=doc.range(cursor, cursor), new_text=text),
        insert_text_format=types.InsertTextFormat.PlainText,
        filter_text=doc.text[doc.lines.starts[doc.position(cursor).line] : cursor],
    )
    return types.CompletionList(is_incomplete=True, items=[item])
