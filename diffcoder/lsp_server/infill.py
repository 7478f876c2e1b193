"""Inline infill: `textDocument/inlineCompletion` (and a `textDocument/completion` fallback).

Debounced per document; a newer request for the same document cancels the older one, whose
answer is then empty rather than an error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from diffcoder.editing.infill_pipeline import run_infill
from diffcoder.lsp_server.documents import DocumentSnapshot, snapshot
from diffcoder.lsp_server.model_host import ModelJob

if TYPE_CHECKING:
    from diffcoder.lsp_server.server import DiffCoderServer

logger = logging.getLogger(__name__)
MODEL_WAIT_S = 2.0  # typing must not queue behind a model load: a quick "nothing" is better


class InfillService:
    def __init__(self, server: DiffCoderServer) -> None:
        self.server = server
        self.latest: dict[str, ModelJob] = {}  # newest infill per document URI
        # Timings of the last finished infill, shown by diffcoder/status: an inline completion
        # answer has no room for them, and the latency benchmark splits model from server time.
        self.last_stats: dict[str, Any] | None = None

    def cancel(self, uri: str | None = None) -> int:
        """Cancel infills still debouncing (a decoding one is also in `edits.jobs`)."""
        uris = list(self.latest) if uri is None else [uri] if uri in self.latest else []
        pending = [
            self.latest[u] for u in uris if self.latest[u] not in self.server.edits.jobs.values()
        ]
        for job in pending:
            job.cancel()
        return len(pending)

    async def infill(
        self, uri: str, position: types.Position, key: Any
    ) -> tuple[DocumentSnapshot, int, str] | None:
        """(document, cursor offset, text to insert) or None when there is nothing to offer."""
        server = self.server
        settings = server.settings.inline
        started = time.perf_counter()
        job = ModelJob(uri)
        older = self.latest.get(uri)
        if older is not None:
            older.cancel()
        self.latest[uri] = job
        try:
            await asyncio.sleep(settings.debounce_ms / 1000)
            if job.cancelled.is_set():
                return None
            doc = snapshot(server.workspace, uri)
            cursor = doc.offset(position)
            engine = await server.model.acquire(MODEL_WAIT_S)
            server.edits.jobs[key] = job  # $/cancelRequest reaches it too
            result = await server.model.run(
                run_infill,
                engine,
                doc.text,
                cursor,
                max_new_tokens=settings.max_new_tokens,
                budget=server.settings.context.max_tokens,
                threshold=server.settings.edit.threshold,
                cancel=job.cancelled,
            )
        except asyncio.CancelledError:
            job.cancel()
            raise
        except JsonRpcException as error:
            logger.info("no infill for %s: %s", uri, error.message)
            return None
        except ValueError as error:  # e.g. a checkpoint without FIM tokens
            logger.warning("no infill for %s: %s", uri, error)
            return None
        finally:
            server.edits.jobs.pop(key, None)
            if self.latest.get(uri) is job:
                del self.latest[uri]
        g = result.generation
        model_s = g.prefill_seconds + g.decode_seconds
        self.last_stats = {
            "generatedTokens": len(g.token_ids),
            "promptTokens": g.prompt_tokens,
            "forwards": g.nfe,
            "modelSeconds": round(model_s, 4),
            "serverSeconds": round(max(time.perf_counter() - started - model_s, 0.0), 4),
        }
        if job.cancelled.is_set() or not result.text:
            return None
        return doc, cursor, result.text

    async def inline_completion(
        self, params: types.InlineCompletionParams, key: Any
    ) -> types.InlineCompletionList | None:
        if not self.server.settings.inline.enabled:
            return None
        found = await self.infill(params.text_document.uri, params.position, key)
        if found is None:
            return types.InlineCompletionList(items=[])
        doc, cursor, text = found
        item = types.InlineCompletionItem(insert_text=text, range=doc.range(cursor, cursor))
        return types.InlineCompletionList(items=[item])

    async def completion(
        self, params: types.CompletionParams, key: Any
    ) -> types.CompletionList | None:
        if not self.server.settings.completion.enabled:
            return None
        found = await self.infill(params.text_document.uri, params.position, key)
        if found is None:
            return types.CompletionList(is_incomplete=True, items=[])
        doc, cursor, text = found
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
