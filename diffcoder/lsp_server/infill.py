"""Inline infill: the text to insert at the cursor, as `textDocument/inlineCompletion` items (and
a `textDocument/completion` fallback).

Debounced per request; a newer infill for the same document cancels the older one (the job
registry does), whose answer is then empty rather than an error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from lsprotocol import types

from diffcoder.editing.infill_pipeline import run_infill
from diffcoder.lsp_server.context import RequestContext
from diffcoder.lsp_server.documents import DocumentSnapshot, RequestFailed, snapshot
from diffcoder.lsp_server.protocol import InfillStats

logger = logging.getLogger(__name__)
MODEL_WAIT_S = 2.0  # typing must not queue behind a model load: a quick "nothing" is better


@dataclass(frozen=True)
class Infill:
    """What to insert at `cursor` of `doc` ("" when there is nothing to offer)."""

    doc: DocumentSnapshot | None
    cursor: int
    text: str
    stats: InfillStats | None  # None when nothing was decoded

    @classmethod
    def nothing(cls, stats: InfillStats | None = None) -> Infill:
        return cls(doc=None, cursor=0, text="", stats=stats)


async def infill(ctx: RequestContext, uri: str, position: types.Position) -> Infill:
    """Decode the middle at `position` after the debounce. What typing cannot fix (no model, a
    document that is not open, too large or binary) is "nothing", logged; a position outside
    the document is the client's mistake: InvalidParams."""
    settings = ctx.settings
    started = time.perf_counter()
    with ctx.jobs.track("infill", ctx.request_id, uri) as job:
        try:
            await asyncio.sleep(settings.inline.debounce_ms / 1000)
            if job.cancelled:
                return Infill.nothing()
            doc = snapshot(ctx.workspace, uri)
            cursor = doc.offset(position, "position")
            engine = await ctx.model.acquire(MODEL_WAIT_S)
            result = await ctx.jobs.run(
                job,
                run_infill,
                engine,
                doc.text,
                cursor,
                max_new_tokens=settings.inline.max_new_tokens,
                context_tokens=settings.context.max_tokens,
                threshold=settings.edit.threshold,
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
    return Infill(doc=doc, cursor=cursor, text=result.text, stats=stats)


def inline_items(found: Infill) -> types.InlineCompletionList:
    if found.doc is None or not found.text:
        return types.InlineCompletionList(items=[])
    where = found.doc.range(found.cursor, found.cursor)
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
