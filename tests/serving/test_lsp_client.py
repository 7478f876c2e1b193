"""`diffcoder-lsp --server URL --token-file F`: the language server decoding on the team server.
Scoping, prompts and diffs stay in the language server; the tokenizer comes from /v1/tokenizer,
progress from the stream. A server it cannot reach, or that refuses its token, is a failed model
with the reason, as a missing checkpoint is."""

from __future__ import annotations

import asyncio
import re

import pytest
import pytest_asyncio
from pytest_lsp import ClientServerConfig

from diffcoder.lsp_server.protocol import OUTCOMES
from tests.lsp.conftest import (
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
from tests.serving.conftest import SERVER_ENV, free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")
OPTIONS = {"diffcoder": {"edit": {"maxNewTokens": 16}, "inline": {"debounceMs": 0}}}


async def _start(*args: str):
    config = ClientServerConfig(server_command=server_command(*args), server_env=SERVER_ENV)
    client = await config.start()
    client.recorder = ApplyRecorder(client)
    await initialize(client, options=OPTIONS)
    return client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(team_server):
    client = await _start("--server", team_server.url, "--token-file", str(team_server.token_file))
    yield client
    await client.shutdown_session()
    await client.stop()


async def test_the_team_server_is_the_model(client, team_server):
    state = await wait_for_model(client)
    assert state["model"]["state"] == "ready", state
    assert state["model"]["path"] == team_server.url
    assert f"team server {team_server.url}: tiny" in state["model"]["detail"]


async def test_an_edit_decodes_remotely_with_progress(client):
    uri = "file:///tmp/remote-edit.py"
    open_document(client, uri)
    result = await execute(client, "diffcoder.edit", edit_args(uri, 1))
    assert result["outcome"] in OUTCOMES and result["finishReason"] in ("eos", "stop", "length")
    assert 1 <= result["stats"]["generatedTokens"] <= 16 and result["stats"]["forwards"] >= 1
    await asyncio.sleep(0.1)
    steps = [
        r.message
        for report in client.progress_reports.values()
        for r in report
        if r.kind == "report" and r.message
    ]
    assert any(re.fullmatch(r"\d+/\d+ tokens", message) for message in steps), steps


async def test_inline_completion_decodes_remotely(client):
    uri = "file:///tmp/remote-infill.py"
    open_document(client, uri, "def f(x):\n    \n")
    result = await client.text_document_inline_completion_async(inline_params(uri))
    assert [item.range.start.line for item in result.items] in ([], [1])
    assert (await status(client))["lastInfill"]["forwards"] >= 1


@pytest.mark.parametrize("problem", ["unreachable", "wrong token"])
async def test_a_server_it_cannot_use_is_a_failed_model_with_the_reason(
    team_server, tmp_path, problem
):
    if problem == "unreachable":
        args, reason = ("--server", f"http://127.0.0.1:{free_port()}"), "cannot reach"
    else:
        wrong = tmp_path / "token"
        wrong.write_text("not-a-token-of-this-server\n", "utf-8")
        args, reason = ("--server", team_server.url, "--token-file", str(wrong)), "answered 401"
    client = await _start(*args)
    try:
        state = await wait_for_model(client)
        assert state["model"]["state"] == "failed", state
        assert reason in state["model"]["detail"] and "diffcoder" in state["model"]["detail"]
    finally:
        await client.shutdown_session()
        await client.stop()
