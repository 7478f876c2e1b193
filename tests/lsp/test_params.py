"""Inline completion params as real clients send them (params.py): vscode-languageclient 9.0.1's
shape and every kind of broken optional field are made readable for lsprotocol; what the protocol
requires is left alone."""

from __future__ import annotations

import copy
from typing import Any

import cattrs
import pytest
from lsprotocol import types
from lsprotocol.converters import get_converter

from diffcoder.lsp_server.params import normalise, selected_completion_info

INLINE = "textDocument/inlineCompletion"
converter = get_converter()
START, END = {"line": 1, "character": 4}, {"line": 1, "character": 5}


def params(**context: Any) -> dict[str, Any]:
    return {
        "textDocument": {"uri": "file:///a.py"},
        "position": {"line": 1, "character": 5},
        "context": context,
    }


def read(raw: dict[str, Any]) -> types.InlineCompletionParams:
    return converter.structure(normalise(INLINE, raw), types.InlineCompletionParams)


# vscode-languageclient 9.0.1 with the suggest widget open: VS Code's trigger kind (0: Invoke)
# and the selected item's range as the JSON of a vscode.Range, an array [start, end].
CLIENT_9_0_1 = params(triggerKind=0, selectedCompletionInfo={"range": [START, END], "text": "s"})


def test_the_raw_9_0_1_shape_is_what_lsprotocol_rejects():
    # the premise: without params.py pygls answers InvalidParams before any handler runs
    with pytest.raises(cattrs.BaseValidationError):
        converter.structure(CLIENT_9_0_1, types.InlineCompletionParams)


def test_the_9_0_1_shape_keeps_the_selected_item():
    read_back = read(CLIENT_9_0_1)
    selected = read_back.context.selected_completion_info
    assert selected is not None and selected.text == "s"
    assert (selected.range.start.line, selected.range.start.character) == (1, 4)
    assert (selected.range.end.line, selected.range.end.character) == (1, 5)
    assert read_back.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked


BROKEN_SELECTIONS = {
    "null": None,
    "not an object": "s",
    "no text": {"range": {"start": START, "end": END}},
    "no range": {"text": "s"},
    "text not a string": {"range": {"start": START, "end": END}, "text": 3},
    "range a string": {"range": "1:4-1:5", "text": "s"},
    "array of one": {"range": [START], "text": "s"},
    "negative character": {"range": [{"line": 1, "character": -1}, END], "text": "s"},
    "line a string": {"range": [{"line": "1", "character": 4}, END], "text": "s"},
    "boolean line": {"range": [{"line": True, "character": 4}, END], "text": "s"},
    "end before start": {"range": [END, START], "text": "s"},
    "start missing": {"range": {"end": END}, "text": "s"},
}


@pytest.mark.parametrize("name", sorted(BROKEN_SELECTIONS))
def test_a_broken_selected_item_is_dropped(name: str):
    raw = params(triggerKind=2, selectedCompletionInfo=BROKEN_SELECTIONS[name])
    assert read(raw).context.selected_completion_info is None


@pytest.mark.parametrize(
    ("sent", "read_as"),
    [(0, 1), (1, 1), (2, 2), (None, 2), (7, 2), ("Invoke", 2), (True, 2), (-1, 2)],
)
def test_any_trigger_kind_is_read(sent: Any, read_as: int):
    raw = params(triggerKind=sent) if sent is not None else params()
    assert read(raw).context.trigger_kind == read_as


@pytest.mark.parametrize("token", [None, {"a": 1}, [1], 2.5, True])
def test_a_bad_work_done_token_is_dropped(token: Any):
    raw = {**params(triggerKind=1), "workDoneToken": token, "partialResultToken": {"x": 1}}
    assert read(raw).work_done_token is None


def test_good_values_pass_unchanged_and_the_input_is_not_touched():
    raw = {**params(triggerKind=2, selectedCompletionInfo={"range": {"start": START, "end": END},
           "text": "s"}), "workDoneToken": "t"}  # fmt: skip
    before = copy.deepcopy(raw)
    assert normalise(INLINE, raw) == raw
    assert raw == before
    assert read(CLIENT_9_0_1) and CLIENT_9_0_1["context"]["triggerKind"] == 0  # not mutated


@pytest.mark.parametrize("raw", [None, [], "x", {"textDocument": {"uri": "u"}}, params()])
def test_what_the_protocol_requires_is_not_made_up(raw: Any):
    if isinstance(raw, dict) and "context" not in raw:
        assert "context" not in normalise(INLINE, raw)
    elif not isinstance(raw, dict):
        assert normalise(INLINE, raw) is raw


def test_other_methods_are_left_alone():
    raw = {"context": {"triggerKind": 0}}
    assert normalise("textDocument/completion", raw) is raw


def test_selected_completion_info_accepts_the_protocol_shape():
    value = {"range": {"start": START, "end": END}, "text": ""}
    assert selected_completion_info(value) == value
