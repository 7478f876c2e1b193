"""End to end with a VS Code-like client against the real server whose decoding is scripted
(tests/lsp/scripted_server.py): real edits through executeCommand, code actions, applyEdit,
progress, cancellation, stale versions and a responsive event loop while decoding.
"""

from __future__ import annotations

import asyncio

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

from diffcoder.lsp_server.client import apply_text_edits
from tests.lsp.conftest import (
    SERVER_ENV,
    SOURCE,
    TINY,
    ApplyRecorder,
    change_document,
    edit_args,
    execute,
    initialize,
    inline_params,
    open_document,
    server_command,
    status,
    wait_for_model,
)
from tests.lsp.scripted_server import INFILL_KEPT

pytestmark = pytest.mark.asyncio(loop_scope="module")


def configure(client: LanguageClient, settings: dict) -> None:
    params = types.DidChangeConfigurationParams(settings={"diffcoder": settings})
    client.workspace_did_change_configuration(params)


EXPECTED = SOURCE.replace("a + b", "b + a")
CONFIG = ClientServerConfig(
    server_command=server_command("--model", str(TINY), scripted=True, step_delay=0.05),
    server_env=SERVER_ENV,
)


@pytest_lsp.fixture(scope="module", config=CONFIG)
async def client(lsp_client: LanguageClient):
    lsp_client.recorder = ApplyRecorder(lsp_client)
    lsp_client.init_result = await initialize(lsp_client, options={"inline": {"debounceMs": 0}})
    assert (await wait_for_model(lsp_client))["model"]["state"] == "ready"
    yield
    await lsp_client.shutdown_session()


async def test_capabilities_advertise_the_features(client: LanguageClient):
    caps = client.init_result.capabilities
    assert caps.inline_completion_provider
    assert caps.code_action_provider.resolve_provider is True
    assert {"diffcoder.edit", "diffcoder.cancel"} <= set(caps.execute_command_provider.commands)
    assert caps.position_encoding in (None, types.PositionEncodingKind.Utf16)


async def test_edit_with_apply_sends_a_versioned_edit(client: LanguageClient):
    uri = "file:///tmp/apply.py"
    open_document(client, uri, version=3)
    before = len(client.recorder.requests)
    result = await execute(client, "diffcoder.edit", edit_args(uri, 3))
    assert result["applied"] is True, result
    assert result["outcome"] == "applied" and result["detail"] is None
    assert result["finishReason"] == "stop" and result["version"] == 3
    assert result["region"]["kind"] == "function"
    assert set(result["stats"]) >= {"modelSeconds", "serverSeconds", "generatedTokens"}
    sent = client.recorder.requests[before:]
    assert len(sent) == 1
    change = sent[0].edit.document_changes[0]
    assert change.text_document.uri == uri and change.text_document.version == 3
    edits = [{"range": client.protocol._converter.unstructure(e.range), "newText": e.new_text}
             for e in change.edits]  # fmt: skip
    # The line holds an emoji (2 UTF-16 units) and a CJK character: columns must be UTF-16.
    assert apply_text_edits(SOURCE, edits, "utf-16") == EXPECTED


async def test_edit_progress_is_reported(client: LanguageClient):
    uri = "file:///tmp/progress.py"
    open_document(client, uri)
    known = set(client.progress_reports)
    await execute(client, "diffcoder.edit", edit_args(uri, 1, apply=False))
    await asyncio.sleep(0.2)  # $/progress end is a notification: let it arrive
    reports = [v for t, v in client.progress_reports.items() if t not in known]
    assert reports, "no progress for the edit"
    kinds = [r.kind for r in reports[-1]]
    assert kinds[0] == "begin" and kinds[-1] == "end" and "report" in kinds
    percents = [r.percentage for r in reports[-1] if r.kind == "report"]
    assert percents == sorted(percents) and percents[-1] == 100


async def test_edit_without_apply_returns_the_edit(client: LanguageClient):
    uri = "file:///tmp/preview.py"
    open_document(client, uri)
    before = len(client.recorder.requests)
    result = await execute(client, "diffcoder.edit", edit_args(uri, 1, apply=False))
    assert result["applied"] is False and result["rejected"] is None
    assert result["outcome"] == "proposed" and result["detail"] is None
    change = result["edit"]["documentChanges"][0]
    assert change["textDocument"] == {"uri": uri, "version": 1}
    assert apply_text_edits(SOURCE, change["edits"], "utf-16") == EXPECTED
    assert len(client.recorder.requests) == before


async def test_code_action_then_resolve_gives_the_edit(client: LanguageClient):
    uri = "file:///tmp/actions.py"
    open_document(client, uri, version=7)
    where = types.Range(types.Position(1, 4), types.Position(1, 4))
    diagnostic = types.Diagnostic(range=where, message="operands in the wrong order")
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=where,
        context=types.CodeActionContext(diagnostics=[diagnostic]),
    )
    actions = await client.text_document_code_action_async(params)
    titles = [a.title for a in actions]
    assert 'DiffCoder: Fix "operands in the wrong order"' in titles
    assert "DiffCoder: Add a docstring" in titles
    assert all(a.edit is None and a.data for a in actions)
    rewrite = next(a for a in actions if a.kind == types.CodeActionKind.RefactorRewrite)
    resolved = await client.code_action_resolve_async(rewrite)
    change = resolved.edit.document_changes[0]
    assert change.text_document.version == 7
    only = types.CodeActionContext(diagnostics=[], only=[types.CodeActionKind.QuickFix])
    params.context = only
    assert not await client.text_document_code_action_async(params)


async def test_server_answers_while_an_edit_decodes(client: LanguageClient):
    uri = "file:///tmp/busy.py"
    open_document(client, uri)
    edit = asyncio.ensure_future(execute(client, "diffcoder.edit", edit_args(uri, 1, apply=False)))
    await asyncio.sleep(0.2)
    state = await status(client)
    assert state["inFlight"] == 1
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(types.Position(0, 0), types.Position(0, 0)),
        context=types.CodeActionContext(diagnostics=[]),
    )
    assert await client.text_document_code_action_async(params)
    assert not edit.done(), "the other requests waited for the decoding"
    assert (await edit)["edit"] is not None


async def test_cancel_request_stops_the_decoding(client: LanguageClient):
    uri = "file:///tmp/cancel.py"
    open_document(client, uri)
    before = len(client.recorder.requests)
    params = types.ExecuteCommandParams(command="diffcoder.edit", arguments=[edit_args(uri, 1)])
    pending = asyncio.ensure_future(  # pytest-lsp sends only once the coroutine runs
        client.protocol.send_request_async(
            types.WORKSPACE_EXECUTE_COMMAND, params, msg_id="edit-to-cancel"
        )
    )
    await asyncio.sleep(0.3)
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="edit-to-cancel"))
    with pytest.raises(JsonRpcException, match="cancel"):
        await pending
    for _ in range(50):  # the decoder stops within one step
        if (await status(client))["inFlight"] == 0:
            break
        await asyncio.sleep(0.05)
    assert (await status(client))["inFlight"] == 0
    await asyncio.sleep(1.2)  # longer than the whole scripted decoding: nothing comes late
    assert len(client.recorder.requests) == before
    assert (await execute(client, "diffcoder.edit", edit_args(uri, 1)))["applied"] is True


async def test_cancel_command_ends_an_edit_without_applying(client: LanguageClient):
    uri = "file:///tmp/cancel-command.py"
    open_document(client, uri)
    before = len(client.recorder.requests)
    edit = asyncio.ensure_future(execute(client, "diffcoder.edit", edit_args(uri, 1)))
    await asyncio.sleep(0.3)
    assert (await execute(client, "diffcoder.cancel", {"textDocument": {"uri": "file:///x"}})) == {
        "cancelled": 0
    }
    assert (await execute(client, "diffcoder.cancel", {"textDocument": {"uri": uri}})) == {
        "cancelled": 1
    }
    result = await edit
    assert result["applied"] is False and result["cancelled"] is True
    assert result["outcome"] == "cancelled"
    assert len(client.recorder.requests) == before


async def test_edit_for_a_document_that_changed_meanwhile_is_not_applied(client: LanguageClient):
    uri = "file:///tmp/stale.py"
    open_document(client, uri)
    before = len(client.recorder.requests)
    edit = asyncio.ensure_future(execute(client, "diffcoder.edit", edit_args(uri, 1)))
    await asyncio.sleep(0.3)
    change_document(client, uri, SOURCE + "# typed meanwhile\n", version=2)
    result = await edit
    assert result["applied"] is False and "changed" in result["reason"]
    assert result["outcome"] == "stale" and result["detail"] == result["reason"]
    assert len(client.recorder.requests) == before
    with pytest.raises(JsonRpcException, match="version 1 .* version 2"):
        await execute(client, "diffcoder.edit", edit_args(uri, 1))
    assert (await execute(client, "diffcoder.edit", edit_args(uri, 2)))["applied"] is True


async def test_progress_cancel_from_the_client_ends_the_edit(client: LanguageClient):
    uri = "file:///tmp/progress-cancel.py"
    open_document(client, uri)
    known = set(client.progress_reports)
    edit = asyncio.ensure_future(execute(client, "diffcoder.edit", edit_args(uri, 1)))
    await asyncio.sleep(0.3)
    token = next(t for t in client.progress_reports if t not in known)
    assert client.progress_reports[token][0].cancellable is True
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    result = await edit
    assert result["cancelled"] is True and result["applied"] is False
    assert result["outcome"] == "cancelled"


async def test_an_editor_that_does_not_answer_apply_edit_times_out(client: LanguageClient):
    uri = "file:///tmp/silent.py"
    open_document(client, uri)
    configure(client, {"edit": {"applyTimeoutS": 0.2}, "inline": {"debounceMs": 0}})
    client.recorder.delay = 1.0
    try:
        result = await execute(client, "diffcoder.edit", edit_args(uri, 1))
    finally:
        client.recorder.delay = 0.0
        configure(client, {"inline": {"debounceMs": 0}})
    assert result["applied"] is False and "did not answer" in result["reason"]
    assert result["outcome"] == "failed"
    assert (await status(client))["settings"]["edit"]["applyTimeoutS"] == 10.0


async def test_inline_completion_gives_one_item_with_a_range(client: LanguageClient):
    uri = "file:///tmp/infill.py"
    text = "def answer():\n    \n"
    open_document(client, uri, text)
    params = inline_params(uri)
    result = await client.text_document_inline_completion_async(params)
    items = result.items if isinstance(result, types.InlineCompletionList) else result
    assert len(items) == 1
    assert items[0].insert_text == INFILL_KEPT
    assert items[0].range == types.Range(types.Position(1, 4), types.Position(1, 4))


async def test_newer_inline_request_cancels_the_older(client: LanguageClient):
    uri = "file:///tmp/typing.py"
    open_document(client, uri, "def answer():\n    \n")
    params = inline_params(uri, typed=True)
    older = asyncio.ensure_future(client.text_document_inline_completion_async(params))
    await asyncio.sleep(0.3)
    newer = await client.text_document_inline_completion_async(params)
    assert not (await older).items
    assert [item.insert_text for item in newer.items] == [INFILL_KEPT]


async def test_completion_fallback_offers_the_infill(client: LanguageClient):
    uri = "file:///tmp/complete.py"
    open_document(client, uri, "def answer():\n    \n")
    params = types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(1, 4)
    )
    result = await client.text_document_completion_async(params)
    assert [item.text_edit.new_text for item in result.items] == [INFILL_KEPT]


async def test_closing_the_document_cancels_its_edit(client: LanguageClient):
    uri = "file:///tmp/close-edit.py"
    open_document(client, uri)
    before = len(client.recorder.requests)
    edit = asyncio.ensure_future(execute(client, "diffcoder.edit", edit_args(uri, 1)))
    await asyncio.sleep(0.3)
    assert (await status(client))["inFlight"] == 1
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    result = await edit
    assert result["outcome"] == "cancelled" and "closed" in result["detail"]
    assert result["applied"] is False and result["edit"] is None
    await asyncio.sleep(0.3)
    assert len(client.recorder.requests) == before
    assert (await status(client))["inFlight"] == 0


async def test_closing_the_document_cancels_its_infill(client: LanguageClient):
    uri = "file:///tmp/close-infill.py"
    open_document(client, uri, "def answer():\n    \n")
    params = inline_params(uri, typed=True)
    infill = asyncio.ensure_future(client.text_document_inline_completion_async(params))
    await asyncio.sleep(0.3)
    assert (await status(client))["inFlight"] == 1
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert not (await infill).items
    assert (await status(client))["inFlight"] == 0


async def test_closing_another_document_leaves_the_edit_alone(client: LanguageClient):
    uri, other = "file:///tmp/keep-edit.py", "file:///tmp/keep-other.py"
    open_document(client, uri)
    open_document(client, other)
    edit = asyncio.ensure_future(execute(client, "diffcoder.edit", edit_args(uri, 1, apply=False)))
    await asyncio.sleep(0.3)
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=other))
    )
    assert (await edit)["outcome"] == "proposed"
