"""Open documents kept in step with the editor: didOpen, didChange and didClose, checked.

pygls applies an incremental change with `str.splitlines` (which also breaks lines at form feeds
and U+2028) and quietly drops a change whose range lies past the end, and raises KeyError for a
document that was never opened. Here a change is applied with the LSP line rule and the
negotiated position encoding (`editing.positions.LineIndex`, the same rule as every request);
a change the server cannot apply marks the document out of sync, so requests on it are refused
with the reason until the editor sends the whole text again; a notification for a document that
is not open is ignored with one log line. Each function returns what to tell the log (None: all
went well).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.workspace import Workspace

from diffcoder.editing.positions import LineIndex
from diffcoder.lsp_server.documents import OUT_OF_SYNC, encoding_name

logger = logging.getLogger(__name__)


def _document(workspace: Workspace, uri: str) -> Any | None:
    return workspace.text_documents.get(unquote(uri))


def _put(workspace: Workspace, uri: str, text: str, version: int | None, language: str | None):
    item = types.TextDocumentItem(uri=uri, language_id=language or "", version=version, text=text)
    workspace.put_text_document(item)
    document = _document(workspace, uri)
    document.language_id = language  # pygls would keep "" for a client that sent none
    return document


def did_open(workspace: Workspace, params: types.DidOpenTextDocumentParams) -> bool:
    """Store the document; True when it was open already (its text is replaced)."""
    item = params.text_document
    was_open = _document(workspace, item.uri) is not None
    workspace.put_text_document(item)
    if was_open:
        logger.warning("didOpen for %s, which is already open: its text was replaced", item.uri)
    return was_open


def did_close(workspace: Workspace, uri: str) -> bool:
    """Forget the document; False (and one log line) when it was not open."""
    if _document(workspace, uri) is None:
        logger.warning("didClose for %s, which is not open: ignored", uri)
        return False
    workspace.remove_text_document(uri)
    return True


def _splice(text: str, change: Any, encoding: str) -> tuple[str, str | None]:
    """`text` with one incremental change applied, or the text unchanged and why not."""
    lines = LineIndex(text)
    count = lines.line_count
    start, end = change.range.start, change.range.end
    for name, where in (("start", start), ("end", end)):
        if not 0 <= where.line < count:
            return text, f"a change's range {name} is line {where.line}, but it has {count} lines"
    first = lines.position_to_offset(start.line, start.character, encoding)
    last = lines.position_to_offset(end.line, end.character, encoding)
    if (end.line, end.character) < (start.line, start.character):
        return text, "a change's range ends before it starts"
    return text[:first] + change.text + text[last:], None


def did_change(workspace: Workspace, params: types.DidChangeTextDocumentParams) -> None:
    """Apply the changes in order. A whole-text change resynchronizes the document."""
    uri, version = params.text_document.uri, params.text_document.version
    document = _document(workspace, uri)
    if document is None:
        logger.warning("didChange for %s, which is not open: ignored (send didOpen first)", uri)
        return
    if document.version is not None and version is not None and version <= document.version:
        logger.warning(
            "didChange for %s goes from version %s to %s: versions must increase; applied",
            uri,
            document.version,
            version,
        )
    text, problem = document.source, getattr(document, OUT_OF_SYNC, None)
    encoding = encoding_name(workspace)
    for change in params.content_changes:
        if isinstance(change, types.TextDocumentContentChangeWholeDocument):
            text, problem = change.text, None
        elif problem is None:
            text, problem = _splice(text, change, encoding)
            if problem is not None:
                logger.warning("%s is out of sync with the editor: %s", uri, problem)
    updated = _put(workspace, uri, text, version, document.language_id)
    setattr(updated, OUT_OF_SYNC, problem)


def mark_out_of_sync(workspace: Workspace, raw_params: Any, why: str) -> None:
    """A didChange the server could not read: its document can no longer be trusted."""
    document_ref = raw_params.get("textDocument") if isinstance(raw_params, dict) else None
    uri = document_ref.get("uri") if isinstance(document_ref, dict) else None
    document = _document(workspace, uri) if isinstance(uri, str) else None
    if document is not None:
        setattr(document, OUT_OF_SYNC, why)
        logger.warning("%s is out of sync with the editor: %s", uri, why)
