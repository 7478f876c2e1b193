"""Servers without a usable model stay up and answer each model request with the reason:
no model configured (how to set one), and a checkpoint directory that does not exist.
"""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.lsp.conftest import (
    SERVER_ENV,
    TINY,
    edit_args,
    execute,
    initialize,
    open_document,
    server_command,
    status,
    wait_for_model,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(
        server_command=server_command("--no-demo-model"), server_env=SERVER_ENV
    ),
)
async def unconfigured(lsp_client: LanguageClient):
    await initialize(lsp_client, "neovim@v0.7.0")
    yield
    await lsp_client.shutdown_session()


async def test_without_a_model_requests_say_how_to_set_one(unconfigured: LanguageClient):
    assert (await status(unconfigured))["model"]["state"] == "unconfigured"
    uri = "file:///tmp/none.py"
    open_document(unconfigured, uri)
    with pytest.raises(JsonRpcException, match="--model PATH.*modelPath"):
        await execute(unconfigured, "diffcoder.edit", edit_args(uri, 1))
    params = types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(1, 4)
    )
    assert not (await unconfigured.text_document_completion_async(params)).items
    assert (await status(unconfigured))["model"]["state"] == "unconfigured"


async def test_model_path_from_the_settings_loads_the_model(unconfigured: LanguageClient):
    settings = {"diffcoder": {"modelPath": str(TINY), "edit": {"maxNewTokens": 8}}}
    unconfigured.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings=settings)
    )
    state = await wait_for_model(unconfigured)
    assert state["model"]["state"] == "ready" and state["model"]["path"] == str(TINY)
    uri = "file:///tmp/configured.py"
    open_document(unconfigured, uri)
    result = await execute(unconfigured, "diffcoder.edit", edit_args(uri, 1, apply=False))
    assert result["stats"]["generatedTokens"] <= 8


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(
        server_command=server_command("--model", "/nonexistent/checkpoint"),
        server_env=SERVER_ENV,
    ),
)
async def broken(lsp_client: LanguageClient):
    await initialize(lsp_client)
    yield
    await lsp_client.shutdown_session()


async def test_missing_model_directory_is_explained(broken: LanguageClient):
    state = await wait_for_model(broken)
    assert state["model"]["state"] == "failed"
    assert any("could not be loaded" in m.message for m in broken.messages)
    uri = "file:///tmp/broken.py"
    open_document(broken, uri)
    with pytest.raises(JsonRpcException, match="/nonexistent/checkpoint could not be loaded"):
        await execute(broken, "diffcoder.edit", edit_args(uri, 1))
    where = types.Range(types.Position(0, 0), types.Position(0, 0))
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=where,
        context=types.CodeActionContext(diagnostics=[]),
    )
    actions = await broken.text_document_code_action_async(params)
    resolved = await broken.code_action_resolve_async(actions[0])
    assert resolved.edit is None
    assert any("could not be loaded" in m.message for m in broken.messages[-1:])
