"""Without --model the server loads the embedded demo model, says so, and serves real answers:
an obvious inline completion comes back right through the protocol."""

from __future__ import annotations

import pytest
import pytest_lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.lsp.conftest import (
    SERVER_ENV,
    initialize,
    inline_params,
    open_document,
    server_command,
    wait_for_model,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(
        server_command=server_command("--device", "cpu"), server_env=SERVER_ENV
    ),
)
async def client(lsp_client: LanguageClient):
    await initialize(lsp_client, options={"inline": {"debounceMs": 0}})
    yield
    await lsp_client.shutdown_session()


async def test_the_demo_model_is_the_default_and_completes_obvious_code(client: LanguageClient):
    state = await wait_for_model(client)
    assert state["model"]["state"] == "ready"
    assert state["model"]["detail"].startswith("demo model")
    assert state["model"]["path"].endswith("demo_checkpoint")
    uri = "file:///tmp/add.py"
    open_document(client, uri, "def add(a, b):\n\n")
    params = inline_params(uri, 1, 0)
    result = await client.text_document_inline_completion_async(params)
    assert [item.insert_text for item in result.items] == ["    return a + b\n"]
