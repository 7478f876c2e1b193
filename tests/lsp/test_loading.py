"""Requests while the model loads: edits wait for it (and can be cancelled meanwhile; a cancelled
one is never applied), infill answers "nothing" at once rather than queueing behind the load.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

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
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
LOAD_DELAY = 4.0


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(
        server_command=server_command(
            "--model", str(TINY), "--load-delay", str(LOAD_DELAY), scripted=True
        ),  # fmt: skip
        server_env=SERVER_ENV,
    ),
)
async def client(lsp_client: LanguageClient):
    lsp_client.recorder = ApplyRecorder(lsp_client)
    await initialize(lsp_client)
    yield
    await lsp_client.shutdown_session()


async def test_requests_during_the_load(client: LanguageClient):
    assert (await status(client))["model"]["state"] == "loading"
    uri = "file:///tmp/early.py"
    open_document(client, uri)

    started = time.monotonic()
    params = inline_params(uri)
    assert not (await client.text_document_inline_completion_async(params)).items
    assert time.monotonic() - started < LOAD_DELAY - 0.5

    waiting = asyncio.ensure_future(execute(client, "diffcoder.edit", edit_args(uri, 1)))
    cancelled_params = types.ExecuteCommandParams(
        command="diffcoder.edit", arguments=[edit_args(uri, 1)]
    )
    doomed = asyncio.ensure_future(
        client.protocol.send_request_async(
            types.WORKSPACE_EXECUTE_COMMAND, cancelled_params, msg_id="doomed"
        )
    )
    await asyncio.sleep(0.5)
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="doomed"))
    with pytest.raises(JsonRpcException, match="cancel"):
        await doomed
    result = await waiting
    assert result["applied"] is True
    await asyncio.sleep(0.5)
    assert len(client.recorder.requests) == 1, "the cancelled edit was applied"
    assert (await status(client))["inFlight"] == 0
