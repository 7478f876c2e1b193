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
from pygls.workspace import TextDocument, Workspace

from diffcoder.editing.positions import LineIndex
from diffcoder.editing.text_checks import text_problem

REQUEST_FAILED = -32803  # LSP ErrorCodes.RequestFailed
# Set on a pygls TextDocument whose text the server can no longer trust (see `sync.py`).
OUT_OF_SYNC = "diffcoder_out_of_sync"


class RequestFailed(JsonRpcException):
    """The request was valid but cannot be served (no model, stale version, huge file)."""

    CODE = REQUEST_FAILED
    MESSAGE = "Request failed"


class InternalError(JsonRpcException):
    """A bug in the server (already logged with its traceback): JSON-RPC InternalError."""

    CODE = -32603
    MESSAGE = "Internal error"


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

    def offset(self, position: types.Position, what: str = "position") -> int:
        """The `str` offset of an LSP position; a line past the end is InvalidParams (a
        character past its line's end is the line's end, as LSP says)."""
        count = self.lines.line_count
        if not 0 <= position.line < count:
            raise JsonRpcInvalidParams(
                f"{what} line {position.line} is outside {self.uri}: the document has {count} "
                f"lines (0 to {count - 1}); send a position inside it"
            )
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
    problem = text_problem(text, uri)  # the CLI refuses the same files with the same words
    if problem is not None:
        raise RequestFailed(problem)
    if is_out_of_sync(document):
        raise RequestFailed(
            f"the server's copy of {uri} is out of sync with the editor "
            f"({getattr(document, OUT_OF_SYNC)}); "
            "close and reopen the file"
        )
    return DocumentSnapshot(
        uri=uri,
        version=document.version,
        text=text,
        language_id=document.language_id,
        path=document.path,
        encoding=encoding_name(workspace),
    )


def current(workspace: Workspace, uri: str) -> TextDocument | None:
    """The open document at `uri` as it is now (None when it is not open)."""
    return workspace.text_documents.get(unquote(uri))


def is_out_of_sync(document: TextDocument) -> bool:
    return bool(getattr(document, OUT_OF_SYNC, None))
