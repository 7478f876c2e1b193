"""Shared pieces of the end-to-end LSP tests: the tiny checkpoint, server commands, client helpers.

Each test module starts its own server process(es) once (module scope) and uses fresh URIs.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint

HERE = Path(__file__).parent
# Written at import: pytest-lsp fixtures need the server command when the module is collected.
TINY = make_tiny_checkpoint(Path(tempfile.mkdtemp(prefix="diffcoder-lsp-tests-")) / "tiny")
# One thread per server: the tests run several processes on a 2-core machine.
SERVER_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

SOURCE = 'def add(a, b):\n    s = "😀数"; return a + b\n\n\ndef sub(a, b):\n    return a - b\n'


def server_command(*args: str, scripted: bool = False, step_delay: float = 0.0) -> list[str]:
    if scripted:
        script = str(HERE / "scripted_server.py")
        return [sys.executable, script, "--step-delay", str(step_delay), *args]
    return [sys.executable, "-m", "diffcoder.lsp_server", *args]


async def initialize(
    client: LanguageClient,
    profile: str = "visual-studio-code",
    options: Any = None,
    caps: types.ClientCapabilities | None = None,
) -> types.InitializeResult:
    params = types.InitializeParams(
        capabilities=caps or client_capabilities(profile), initialization_options=options
    )
    return await client.initialize_session(params)


def open_document(
    client: LanguageClient, uri: str, text: str = SOURCE, version: int = 1, language="python"
) -> None:
    item = types.TextDocumentItem(uri=uri, language_id=language, version=version, text=text)
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))


def change_document(client: LanguageClient, uri: str, text: str, version: int) -> None:
    change = types.TextDocumentContentChangeWholeDocument(text=text)
    identifier = types.VersionedTextDocumentIdentifier(uri=uri, version=version)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(text_document=identifier, content_changes=[change])
    )


def plain(value: Any) -> Any:
    """pygls hands untyped JSON results over as namedtuples (`pygls.protocol.Object`): undo it."""
    if hasattr(value, "_asdict"):
        return {key: plain(item) for key, item in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


async def status(client: LanguageClient) -> dict[str, Any]:
    return plain(await client.protocol.send_request_async("diffcoder/status", {}))


async def wait_for_model(client: LanguageClient, timeout: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state = await status(client)
        if state["model"]["state"] in ("ready", "failed", "unconfigured"):
            return state
        assert time.monotonic() < deadline, f"model still loading: {state}"
        await asyncio.sleep(0.1)


def inline_params(
    uri: str, line: int = 1, character: int = 4, *, typed: bool = False
) -> types.InlineCompletionParams:
    """An inline completion request at (line, character): asked for (Invoked), or while typing."""
    kind = types.InlineCompletionTriggerKind
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line, character),
        context=types.InlineCompletionContext(
            trigger_kind=kind.Automatic if typed else kind.Invoked
        ),
    )


def edit_args(uri: str, version: int | None, **extra: Any) -> dict[str, Any]:
    """`diffcoder.edit`'s argument; `apply` is always explicit (True unless given), so these
    tests do not depend on its default (a preview: test_errors.py pins it)."""
    args: dict[str, Any] = {
        "textDocument": {"uri": uri, "version": version},
        "position": {"line": 1, "character": 4},
        "instruction": "Swap the operands",
        "apply": True,
    }
    return {**args, **extra}


async def execute(client: LanguageClient, command: str, *arguments: Any) -> Any:
    params = types.ExecuteCommandParams(command=command, arguments=list(arguments))
    return plain(await client.workspace_execute_command_async(params))


class ApplyRecorder:
    """The client's `workspace/applyEdit` handler: records each request and says applied."""

    def __init__(self, client: LanguageClient) -> None:
        self.requests: list[types.ApplyWorkspaceEditParams] = []
        self.delay = 0.0  # seconds before answering: a slow (or silent) editor

        async def apply_edit(
            params: types.ApplyWorkspaceEditParams,
        ) -> types.ApplyWorkspaceEditResult:
            self.requests.append(params)
            await asyncio.sleep(self.delay)
            return types.ApplyWorkspaceEditResult(applied=True)

        client.feature(types.WORKSPACE_APPLY_EDIT)(apply_edit)
