"""Neovim-like clients against the scripted server: UTF-8 positions (Neovim 0.11 prefers them),
`changes` maps for clients without `documentChanges`, and code actions as commands for clients
without `codeAction/resolve`.
"""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from diffcoder.lsp_server.client import apply_text_edits
from tests.lsp.conftest import (
    SERVER_ENV,
    SOURCE,
    TINY,
    ApplyRecorder,
    edit_args,
    execute,
    initialize,
    open_document,
    plain,
    server_command,
    wait_for_model,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
EXPECTED = SOURCE.replace("a + b", "b + a")


def no_resolve_capabilities() -> types.ClientCapabilities:
    caps = client_capabilities("neovim@v0.11.0")
    caps.text_document.code_action.resolve_support = None
    return caps


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(
        server_command=server_command("--model", str(TINY), scripted=True),
        server_env=SERVER_ENV,
    ),
)
async def neovim(lsp_client: LanguageClient):
    lsp_client.recorder = ApplyRecorder(lsp_client)
    lsp_client.init_result = await initialize(lsp_client, "neovim@v0.11.0")
    assert (await wait_for_model(lsp_client))["model"]["state"] == "ready"
    yield
    await lsp_client.shutdown_session()


async def test_utf8_is_negotiated_and_ranges_use_it(neovim: LanguageClient):
    assert neovim.init_result.capabilities.position_encoding == types.PositionEncodingKind.Utf8
    uri = "file:///tmp/nvim.py"
    open_document(neovim, uri, version=4)
    before = len(neovim.recorder.requests)
    # Line 1 column 30 in UTF-8 bytes is inside `a + b` (the emoji is 4 bytes, 数 is 3).
    result = await execute(
        neovim, "diffcoder.edit", edit_args(uri, 4, position={"line": 1, "character": 30})
    )
    assert result["applied"] is True, result
    sent = neovim.recorder.requests[before:]
    assert len(sent) == 1 and sent[0].edit.document_changes is None
    edits = [
        {"range": neovim.protocol._converter.unstructure(e.range), "newText": e.new_text}
        for e in sent[0].edit.changes[uri]
    ]
    assert apply_text_edits(SOURCE, edits, "utf-8") == EXPECTED


async def test_code_action_resolve_without_document_changes(neovim: LanguageClient):
    uri = "file:///tmp/nvim-actions.py"
    open_document(neovim, uri)
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(types.Position(1, 4), types.Position(1, 4)),
        context=types.CodeActionContext(diagnostics=[]),
    )
    actions = await neovim.text_document_code_action_async(params)
    resolved = await neovim.code_action_resolve_async(actions[0])
    edits = [
        {"range": neovim.protocol._converter.unstructure(e.range), "newText": e.new_text}
        for e in resolved.edit.changes[uri]
    ]
    assert apply_text_edits(SOURCE, edits, "utf-8") == EXPECTED


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(
        server_command=server_command("--model", str(TINY), scripted=True),
        server_env=SERVER_ENV,
    ),
)
async def old_client(lsp_client: LanguageClient):
    lsp_client.recorder = ApplyRecorder(lsp_client)
    await initialize(lsp_client, caps=no_resolve_capabilities())
    assert (await wait_for_model(lsp_client))["model"]["state"] == "ready"
    yield
    await lsp_client.shutdown_session()


async def test_code_actions_are_commands_without_resolve(old_client: LanguageClient):
    uri = "file:///tmp/old.py"
    open_document(old_client, uri, version=2)
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(types.Position(1, 4), types.Position(1, 4)),
        context=types.CodeActionContext(diagnostics=[]),
    )
    # lsprotocol's client-side converter reads any code action carrying a `command` as a bare
    # Command (a bug in its union hook), so read this answer as plain JSON.
    protocol = old_client.protocol
    typed = protocol.get_result_type
    protocol.get_result_type = lambda m: None if m == types.TEXT_DOCUMENT_CODE_ACTION else typed(m)
    try:
        actions = plain(await protocol.send_request_async(types.TEXT_DOCUMENT_CODE_ACTION, params))
    finally:
        del protocol.get_result_type
    assert actions[0]["kind"] == "refactor.rewrite"
    command = actions[0]["command"]
    assert command["command"] == "diffcoder.edit"
    # `data` says what the edit is, for clients that run it their own way: the same arguments
    assert {**actions[0]["data"], "apply": True} == command["arguments"][0]
    assert set(actions[0]["data"]) == {"textDocument", "range", "instruction"}
    before = len(old_client.recorder.requests)
    result = await execute(old_client, command["command"], *command["arguments"])
    assert result["applied"] is True
    assert len(old_client.recorder.requests) == before + 1
