"""Open documents as the server sees them: lookup with size/binary checks, and LSP positions.

Positions cross the protocol in the negotiated encoding (UTF-16 unless the client offers better);
inside, everything is a Python `str` offset (see `diffcoder.editing.positions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.workspace import Workspace

from diffcoder.editing.positions import LineIndex

MAX_DOCUMENT_CHARS = 3 * 1024 * 1024
REQUEST_FAILED = -32803  # LSP ErrorCodes.RequestFailed


class RequestFailed(JsonRpcException):
    """The request was valid but cannot be served (no model, stale version, huge file)."""

    CODE = REQUEST_FAILED
    MESSAGE = "Request failed"


@dataclass(frozen=True)
class DocumentSnapshot:
    uri: str
    version: int | None
    text: str
    language_id: str | None
    path: str | None
    encoding: str  # "utf-16" | "utf-8" | "utf-32"

    @cached_property
    def lines(self) -> LineIndex:
        return LineIndex(self.text)

    def offset(self, position: types.Position) -> int:
        return self.lines.position_to_offset(position.line, position.character, self.encoding)

    def position(self, offset: int) -> types.Position:
        line, character = self.lines.offset_to_position(offset, self.encoding)
        return types.Position(line=line, character=character)

    def range(self, start: int, end: int) -> types.Range:
        return types.Range(start=self.position(start), end=self.position(end))


def encoding_name(workspace: Workspace) -> str:
    kind = workspace.position_encoding
    value = getattr(kind, "value", kind) or "utf-16"
    return str(value) if str(value) in ("utf-8", "utf-16", "utf-32") else "utf-16"


def snapshot(workspace: Workspace, uri: str) -> DocumentSnapshot:
    """The open document at `uri`, checked for size and binary content."""
    if not isinstance(uri, str) or not uri:
        raise JsonRpcInvalidParams("textDocument.uri must be a non-empty string")
    document = workspace.text_documents.get(unquote(uri))
    if document is None:
        raise RequestFailed(f"{uri} is not open in the editor (send textDocument/didOpen first)")
    text = document.source
    if len(text) > MAX_DOCUMENT_CHARS:
        raise RequestFailed(
            f"{uri} is too large for DiffCoder ({len(text) // 1024} KiB; the limit is "
            f"{MAX_DOCUMENT_CHARS // (1024 * 1024)} MiB): select a smaller file"
        )
    if "\x00" in text:
        raise RequestFailed(
            f"{uri} looks binary (it contains NUL characters); DiffCoder edits text only"
        )
    return DocumentSnapshot(
        uri=uri,
        version=document.version,
        text=text,
        language_id=document.language_id,
        path=document.path,
        encoding=encoding_name(workspace),
    )


def current_version(workspace: Workspace, uri: str) -> int | None:
    document = workspace.text_documents.get(unquote(uri))
    return None if document is None else document.version
