"""Issue 14 over the wire, against the real server with scripted decoding: inline completion in
every shape vscode-languageclient 9.0.1 sends, ghost text that stops at the end of the block,
code actions a client can review, the region announced before decoding, a progress percentage
that moves with the answer, and a refused answer that carries its proposal."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import Future
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.lsp.conftest import (
    SERVER_ENV,
    SOURCE,
    TINY,
    edit_args,
    execute,
    initialize,
    open_document,
    plain,
    server_command,
    wait_for_model,
)
from tests.lsp.scripted_server import BREAK, INFILL_ANSWER, INFILL_KEPT

pytestmark = pytest.mark.asyncio(loop_scope="module")
INLINE = types.TEXT_DOCUMENT_INLINE_COMPLETION
CONFIG = ClientServerConfig(
    server_command=server_command("--model", str(TINY), scripted=True, step_delay=0.02),
    server_env=SERVER_ENV,
)


@pytest_lsp.fixture(scope="module", config=CONFIG)
async def client(lsp_client: LanguageClient):
    lsp_client.raw_progress = {}  # token -> the $/progress values as sent (extra keys kept)

    def progress(params: types.ProgressParams) -> None:
        lsp_client.raw_progress.setdefault(str(params.token), []).append(plain(params.value))

    # pytest-lsp's own $/progress handler reads values into lsprotocol types, which drops the
    # keys the region report adds: this one keeps them as sent
    lsp_client.protocol.fm._features[types.PROGRESS] = progress

    await initialize(lsp_client, options={"inline": {"debounceMs": 0}})
    assert (await wait_for_model(lsp_client))["model"]["state"] == "ready"
    yield
    await lsp_client.shutdown_session()


def configure(client: LanguageClient, settings: dict) -> None:
    params = types.DidChangeConfigurationParams(settings={"diffcoder": settings})
    client.workspace_did_change_configuration(params)


async def send_raw(client: LanguageClient, params: dict[str, Any]) -> types.InlineCompletionList:
    """An inline completion request with params exactly as given (pygls would write them from
    lsprotocol's types, which cannot hold the shapes these tests send)."""
    protocol = client.protocol
    msg_id = str(uuid.uuid4())
    future: Future = Future()
    protocol._request_futures[msg_id] = future
    protocol._result_types[msg_id] = protocol.get_result_type(INLINE)
    protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "method": INLINE, "params": params})
    return await asyncio.wrap_future(future)


def raw_inline(uri: str, context: Any, **extra: Any) -> dict[str, Any]:
    # line 1 is `    s = "😀数"; return a + b`: the cursor after its indentation
    at = {"line": 1, "character": 4}
    return {"textDocument": {"uri": uri}, "position": at, "context": context, **extra}


SELECTED = {"range": [{"line": 1, "character": 4}, {"line": 1, "character": 4}], "text": ""}
SHAPES = {
    "9.0.1 with the suggest widget open": {"triggerKind": 1, "selectedCompletionInfo": SELECTED},
    "9.0.1 invoked (triggerKind 0)": {"triggerKind": 0},
    "selectedCompletionInfo null": {"triggerKind": 2, "selectedCompletionInfo": None},
    "selectedCompletionInfo partial": {"triggerKind": 2, "selectedCompletionInfo": {"text": "x"}},
    "malformed range": {
        "triggerKind": 2,
        "selectedCompletionInfo": {"range": [{"line": -1}, {}], "text": "x"},
    },
    "range past the end": {
        "triggerKind": 2,
        "selectedCompletionInfo": {
            "range": {"start": {"line": 99, "character": 0}, "end": {"line": 99, "character": 1}},
            "text": "x",
        },
    },
    "range off the cursor": {
        "triggerKind": 2,
        "selectedCompletionInfo": {
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 3}},
            "text": "def",
        },
    },
    "no triggerKind": {},
}


@pytest.mark.parametrize("name", list(SHAPES))
async def test_inline_completion_takes_every_shape(client: LanguageClient, name: str):
    uri = f"file:///tmp/shape-{abs(hash(name))}.py"
    open_document(client, uri)
    popups = len(client.messages)
    extra = {"workDoneToken": {"bad": 1}} if name == "no triggerKind" else {}
    result = await send_raw(client, raw_inline(uri, SHAPES[name], **extra))
    assert [item.insert_text for item in result.items] == [INFILL_KEPT]
    assert len(client.messages) == popups  # no popup


async def test_a_selected_item_is_extended_over_its_range(client: LanguageClient):
    uri = "file:///tmp/selected.py"
    open_document(client, uri, text="def f(x):\n    ret\n")
    selected = {"range": [{"line": 1, "character": 4}, {"line": 1, "character": 7}],
                "text": "return"}  # fmt: skip
    raw = {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 7},
           "context": {"triggerKind": 1, "selectedCompletionInfo": selected}}  # fmt: skip
    result = await send_raw(client, raw)
    (item,) = result.items
    assert item.insert_text.startswith("return") and len(item.insert_text) > len("return")
    assert (item.range.start.line, item.range.start.character) == (1, 4)
    assert (item.range.end.line, item.range.end.character) == (1, 7)


@pytest.mark.parametrize(
    ("stop_at", "expected"),
    [("block", INFILL_KEPT), ("line", INFILL_KEPT), ("none", INFILL_ANSWER)],
)
async def test_inline_stop_at(client: LanguageClient, stop_at: str, expected: str):
    uri = f"file:///tmp/stop-{stop_at}.py"
    open_document(client, uri)
    configure(client, {"inline": {"debounceMs": 0, "stopAt": stop_at}})
    try:
        result = await send_raw(client, raw_inline(uri, {"triggerKind": 1}))
    finally:
        configure(client, {"inline": {"debounceMs": 0}})
    assert [item.insert_text for item in result.items] == [expected]


async def code_actions(client: LanguageClient, uri: str) -> list[types.CodeAction]:
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(types.Position(1, 4), types.Position(1, 4)),
        context=types.CodeActionContext(diagnostics=[]),
    )
    return await client.text_document_code_action_async(params)


async def test_code_actions_carry_what_the_extension_needs(client: LanguageClient):
    uri = "file:///tmp/actions.py"
    open_document(client, uri, version=4)
    actions = await code_actions(client, uri)
    assert actions and all(a.command is None for a in actions)  # resolve clients: no command
    data = actions[0].data
    assert data == {
        "textDocument": {"uri": uri, "version": 4},
        "range": {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 4}},
        "instruction": actions[0].title.removeprefix("DiffCoder: "),
    }


async def test_a_resolved_action_asks_for_confirmation(client: LanguageClient):
    uri = "file:///tmp/annotated.py"
    open_document(client, uri, version=2)
    (action,) = [a for a in await code_actions(client, uri) if a.title == "DiffCoder: Simplify"]
    resolved = await client.code_action_resolve_async(action)
    edit = resolved.edit
    assert edit is not None and edit.change_annotations is not None
    (annotation,) = edit.change_annotations.values()
    assert annotation.needs_confirmation is True and annotation.label == "DiffCoder: Simplify"
    (change,) = edit.document_changes
    assert change.edits and all(e.annotation_id in edit.change_annotations for e in change.edits)


async def test_progress_announces_the_region_then_moves_with_the_answer(client: LanguageClient):
    uri = "file:///tmp/progress-region.py"
    open_document(client, uri, version=5)
    known = set(client.raw_progress)
    result = await execute(client, "diffcoder.edit", edit_args(uri, 5, apply=False))
    await asyncio.sleep(0.2)  # $/progress is a notification: let the last ones arrive
    (values,) = [v for t, v in client.raw_progress.items() if t not in known]
    assert values[0]["kind"] == "begin" and values[-1]["kind"] == "end"
    announce = values[1]
    assert announce["kind"] == "report" and announce["percentage"] == 0
    assert announce["region"] == result["region"]
    assert announce["textDocument"] == {"uri": uri, "version": 5}
    assert announce["message"].startswith("lines 1–2 (function add): ")
    percents = [v["percentage"] for v in values[2:-1]]
    assert percents == sorted(percents) and percents[-1] == 100 and percents.count(100) == 1
    assert len(set(percents)) >= 10  # it moves step by step, not stall-then-jump
    assert percents[-2] >= 90


async def test_a_refused_answer_carries_its_proposal_and_why(client: LanguageClient):
    text = SOURCE.replace("return a + b", f"return a + b  # {BREAK}")
    uri = "file:///tmp/refused.py"
    open_document(client, uri, text=text, version=1)
    result = await execute(client, "diffcoder.edit", edit_args(uri, 1, apply=False))
    assert result["outcome"] == "refused" and result["edit"] is None
    assert "adds syntax errors to lines 1–2" in result["detail"]
    assert "edit.rejectSyntaxErrors" in result["detail"] and len(result["detail"]) > 150
    assert "def (:" in result["proposal"]
    assert result["proposalRange"] == {
        "start": {"line": 0, "character": 0},
        "end": {"line": 2, "character": 0},
    }
