"""Document sync (`diffcoder/lsp_server/sync.py`): incremental changes follow the LSP line rule
and the negotiated encoding, a change the server cannot apply marks the document out of sync
until the whole text comes again, and notifications for unknown documents change nothing."""

from __future__ import annotations

import logging

import pytest
from lsprotocol import types
from pygls.workspace import Workspace

from diffcoder.lsp_server import sync
from diffcoder.lsp_server.documents import RequestFailed, snapshot

URI = "file:///tmp/sync.py"


def workspace(text: str, encoding: str = "utf-16", version: int = 1) -> Workspace:
    space = Workspace(None, position_encoding=encoding)
    item = types.TextDocumentItem(uri=URI, language_id="python", version=version, text=text)
    sync.did_open(space, types.DidOpenTextDocumentParams(text_document=item))
    return space


def span(l1: int, c1: int, l2: int, c2: int) -> types.Range:
    return types.Range(types.Position(l1, c1), types.Position(l2, c2))


def change(space: Workspace, version: int, *changes: types.TextDocumentContentChangeEvent):
    identifier = types.VersionedTextDocumentIdentifier(uri=URI, version=version)
    params = types.DidChangeTextDocumentParams(text_document=identifier, content_changes=changes)
    sync.did_change(space, params)


def partial(where: types.Range, text: str) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(range=where, text=text)


def text_of(space: Workspace) -> str:
    return space.text_documents[URI].source


@pytest.mark.parametrize(
    "text, where, new, expected",
    [
        # a form feed, U+2028 and a vertical tab are not LSP line breaks
        ("a = 1\x0cb = 2\nc = 3\n", span(1, 0, 1, 1), "C", "a = 1\x0cb = 2\nC = 3\n"),
        ("s = '\u2028'\nx\n", span(1, 0, 1, 1), "y", "s = '\u2028'\ny\n"),
        # CRLF and a lone CR are line ends
        ("a\r\nb\rc\n", span(2, 0, 2, 1), "C", "a\r\nb\rC\n"),
        # UTF-16 columns: the emoji is two units
        ("s = '😀x'\n", span(0, 7, 0, 8), "y", "s = '😀y'\n"),
        # the end of the document (the empty line after the last LF)
        ("a\n", span(1, 0, 1, 0), "b\n", "a\nb\n"),
        # a character past a line's end is its end (LSP)
        ("ab\ncd\n", span(0, 9, 1, 0), "", "abcd\n"),
    ],
)
def test_incremental_changes(text, where, new, expected):
    space = workspace(text)
    change(space, 2, partial(where, new))
    assert text_of(space) == expected
    assert space.text_documents[URI].version == 2
    assert snapshot(space, URI).text == expected


def test_utf8_columns_when_negotiated():
    space = workspace("s = '😀x'\n", encoding="utf-8")
    change(space, 2, partial(span(0, 9, 0, 10), "y"))  # the emoji is four bytes
    assert text_of(space) == "s = '😀y'\n"


def test_changes_apply_in_order():
    space = workspace("abc\n")
    change(space, 2, partial(span(0, 0, 0, 1), "X"), partial(span(0, 2, 0, 3), "Z"))
    assert text_of(space) == "XbZ\n"


@pytest.mark.parametrize("where", [span(5, 0, 5, 0), span(0, 0, 9, 0), span(0, 2, 0, 1)])
def test_a_change_it_cannot_apply_marks_the_document_until_the_whole_text_comes(where, caplog):
    space = workspace("ab\ncd\n")
    with caplog.at_level(logging.WARNING):
        change(space, 2, partial(where, "lost"))
    assert "out of sync" in caplog.text
    assert text_of(space) == "ab\ncd\n"  # nothing half-applied
    with pytest.raises(RequestFailed, match="out of sync.*reopen"):
        snapshot(space, URI)
    change(space, 3, partial(span(0, 0, 0, 0), "more"))  # still out of sync
    with pytest.raises(RequestFailed, match="out of sync"):
        snapshot(space, URI)
    change(space, 4, types.TextDocumentContentChangeWholeDocument(text="new\n"))
    assert snapshot(space, URI).text == "new\n"


def test_unknown_documents_change_nothing(caplog):
    space = workspace("a\n")
    with caplog.at_level(logging.WARNING):
        identifier = types.VersionedTextDocumentIdentifier(uri="file:///other.py", version=2)
        whole = types.TextDocumentContentChangeWholeDocument(text="x")
        params = types.DidChangeTextDocumentParams(
            text_document=identifier, content_changes=[whole]
        )
        sync.did_change(space, params)
        assert sync.did_close(space, "file:///other.py") is False
    assert caplog.text.count("not open") == 2
    assert list(space.text_documents) == [URI]


def test_a_version_that_goes_back_is_applied_with_a_warning(caplog):
    space = workspace("a\n", version=5)
    with caplog.at_level(logging.WARNING):
        change(space, 3, types.TextDocumentContentChangeWholeDocument(text="b\n"))
    assert "versions must increase" in caplog.text
    assert snapshot(space, URI).version == 3 and text_of(space) == "b\n"


def test_reopening_replaces_the_text_and_says_so():
    space = workspace("a\n")
    item = types.TextDocumentItem(uri=URI, language_id="python", version=1, text="b\n")
    assert sync.did_open(space, types.DidOpenTextDocumentParams(text_document=item)) is True
    assert text_of(space) == "b\n"
    assert sync.did_close(space, URI) is True and URI not in space.text_documents


def test_language_id_survives_a_change():
    space = workspace("a\n")
    change(space, 2, partial(span(0, 0, 0, 1), "b"))
    assert space.text_documents[URI].language_id == "python"
