"""End to end against the real server decoding with the real (random-weight) tiny checkpoint,
plus every bad input followed by a request that still works.
"""

from __future__ import annotations

import asyncio

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

from diffcoder.lsp_server.protocol import OUTCOMES
from tests.lsp.conftest import (
    SERVER_ENV,
    TINY,
    ApplyRecorder,
    edit_args,
    execute,
    initialize,
    inline_params,
    open_document,
    server_command,
    status,
    wait_for_model,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
OPTIONS = {"diffcoder": {"edit": {"maxNewTokens": 24}, "inline": {"debounceMs": 0}}}


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(
        server_command=server_command("--model", str(TINY), "--device", "cpu"),
        server_env=SERVER_ENV,
    ),
)
async def client(lsp_client: LanguageClient):
    lsp_client.recorder = ApplyRecorder(lsp_client)
    await initialize(lsp_client, options=OPTIONS)
    yield
    await lsp_client.shutdown_session()


async def works(client: LanguageClient) -> None:
    """A request after a bad one is answered normally."""
    assert (await status(client))["model"]["state"] == "ready"


async def test_model_loads_with_progress(client: LanguageClient):
    state = await wait_for_model(client)
    assert state["model"]["state"] == "ready", state
    assert "cpu" in state["model"]["detail"]
    assert state["settings"]["edit"]["maxNewTokens"] == 24
    await asyncio.sleep(0.1)
    loading = [v for v in client.progress_reports.values() if v and v[0].kind == "begin"]
    assert any("Loading Stable-DiffCoder" in v[0].title and v[-1].kind == "end" for v in loading)


async def test_real_model_edit_gives_a_clear_result(client: LanguageClient):
    uri = "file:///tmp/tiny-edit.py"
    open_document(client, uri)
    before = len(client.recorder.requests)
    result = await execute(client, "diffcoder.edit", edit_args(uri, 1))
    assert result["finishReason"] in ("eos", "stop", "length")
    assert result["stats"]["generatedTokens"] <= 24
    # Random weights: the answer is noise, usually unfinished. Whatever the outcome, the editor
    # got an applyEdit exactly when the edit was applied, and anything else says why.
    sent = len(client.recorder.requests) - before
    assert result["outcome"] in OUTCOMES
    assert result["applied"] == (result["outcome"] == "applied") == (sent == 1)
    assert (result["detail"] is None) == result["applied"] and result["reason"] == result["detail"]
    await works(client)


async def test_real_model_inline_completion_items_have_ranges(client: LanguageClient):
    uri = "file:///tmp/tiny-infill.py"
    open_document(client, uri, "def f(x):\n    \n")
    params = inline_params(uri)
    result = await client.text_document_inline_completion_async(params)
    # noise may trim to nothing: no item, or one non-empty item at the cursor
    shape = [(item.range.start, bool(item.insert_text)) for item in result.items]
    assert shape in ([], [(types.Position(1, 4), True)])
    # either way the real model decoded it
    assert (await status(client))["lastInfill"]["forwards"] >= 1


async def test_unknown_command_is_an_error(client: LanguageClient):
    with pytest.raises(JsonRpcException, match="diffcoder.nope"):
        await execute(client, "diffcoder.nope")
    await works(client)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ([], "instruction"),
        (["not an object"], "expects one object"),
        ([{"textDocument": {"uri": "file:///tmp/x.py"}}], "instruction"),
        ([{"textDocument": {"uri": "file:///tmp/x.py"}, "instruction": "  "}], "empty"),
        ([{"textDocument": {"uri": 5}, "instruction": "x", "range": {"start": 1}}], "range"),
    ],
)
async def test_malformed_arguments_are_an_error(client: LanguageClient, arguments, message):
    with pytest.raises(JsonRpcException, match=message):
        await execute(client, "diffcoder.edit", *arguments)
    await works(client)


async def test_unknown_uri_is_an_error(client: LanguageClient):
    with pytest.raises(JsonRpcException, match="not open"):
        await execute(client, "diffcoder.edit", edit_args("file:///tmp/never-opened.py", 1))
    await works(client)


async def test_stale_version_is_refused(client: LanguageClient):
    uri = "file:///tmp/tiny-stale.py"
    open_document(client, uri, version=5)
    with pytest.raises(JsonRpcException, match="version 4 .* version 5"):
        await execute(client, "diffcoder.edit", edit_args(uri, 4))
    await works(client)


async def test_huge_and_binary_documents_are_refused(client: LanguageClient):
    open_document(client, "file:///tmp/huge.py", "x = 1\n" * 600_000)
    with pytest.raises(JsonRpcException, match="too large"):
        await execute(client, "diffcoder.edit", edit_args("file:///tmp/huge.py", 1))
    open_document(client, "file:///tmp/blob.bin", "\x00\x01binary\x00", language="plaintext")
    with pytest.raises(JsonRpcException, match="binary"):
        await execute(client, "diffcoder.edit", edit_args("file:///tmp/blob.bin", 1))
    await works(client)


async def test_invalid_settings_are_reported_and_defaulted(client: LanguageClient):
    settings = {"diffcoder": {"edit": {"maxNewTokens": -3, "threshold": 0.5}, "quant": "3bit"}}
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=settings))
    message = await client.wait_for_notification(types.WINDOW_SHOW_MESSAGE)
    assert "maxNewTokens" in message.message and "quant" in message.message
    state = await status(client)
    assert state["settings"]["edit"] == {**state["settings"]["edit"], "maxNewTokens": 2048}
    assert state["settings"]["edit"]["threshold"] == 0.5 and state["settings"]["quant"] == "auto"
    await works(client)


async def test_settings_are_pulled_when_the_client_sends_none(client: LanguageClient):
    client.set_configuration({"diffcoder": {"edit": {"maxNewTokens": 12}, "inline": {}}})
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    for _ in range(50):
        if (await status(client))["settings"]["edit"]["maxNewTokens"] == 12:
            break
        await asyncio.sleep(0.05)
    assert (await status(client))["settings"]["edit"]["maxNewTokens"] == 12
    await works(client)
