"""Every request gets one answer, and a client's mistake costs one log line: raw JSON-RPC against
the real server process (scripted backend), one table row per kind of bad input.

After each row the server must answer a normal request, show no popup (window/showMessage), and
have logged at most one line, never a traceback, at the default verbosity. Real bugs keep their
traceback. Lifecycle rules (before initialize, after shutdown, exit codes) use fresh servers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from diffcoder.editing.text_checks import MAX_DOCUMENT_CHARS
from tests.lsp.conftest import SOURCE, TINY, server_command
from tests.lsp.raw_client import ABSENT, RawServer
from tests.lsp.scripted_server import BUG

OK = "file:///tmp/errors/ok.py"  # SOURCE: 7 lines (0 to 6)
BIG = "file:///tmp/errors/big.py"
BINARY = "file:///tmp/errors/binary.py"
NEVER = "file:///tmp/errors/never-opened.py"
PARSE, INVALID_REQUEST, NOT_FOUND, INVALID_PARAMS, INTERNAL = -32700, -32600, -32601, -32602, -32603
NOT_INITIALIZED, REQUEST_FAILED = -32002, -32803
HERE = {"line": 1, "character": 4}
PAST = {"line": 7, "character": 0}  # SOURCE has 7 lines: 0..6


def edit(**fields: Any) -> dict[str, Any]:
    args = {"textDocument": {"uri": OK, "version": 1}, "position": HERE, "instruction": "Swap"}
    return {"command": "diffcoder.edit", "arguments": [{**args, **fields}]}


def doc(uri: str = OK, **extra: Any) -> dict[str, Any]:
    return {"textDocument": {"uri": uri}, "position": HERE, **extra}


def code_action(where: dict[str, Any]) -> dict[str, Any]:
    return {"textDocument": {"uri": OK}, "range": where, "context": {"diagnostics": []}}


INLINE_CONTEXT = {"context": {"triggerKind": 1}}
# (name, method, params, expected error code or "result")
REQUESTS: list[tuple[str, str, Any, Any]] = [
    ("command params null", "workspace/executeCommand", None, INVALID_PARAMS),
    ("command params absent", "workspace/executeCommand", ABSENT, INVALID_PARAMS),
    (
        "command arguments not a list",
        "workspace/executeCommand",
        {"command": "diffcoder.edit", "arguments": {}},
        INVALID_PARAMS,
    ),
    ("unknown command", "workspace/executeCommand", {"command": "diffcoder.nope"}, INVALID_PARAMS),
    (
        "edit without arguments",
        "workspace/executeCommand",
        {"command": "diffcoder.edit"},
        INVALID_PARAMS,
    ),
    (
        "edit with a number",
        "workspace/executeCommand",
        {"command": "diffcoder.edit", "arguments": [1]},
        INVALID_PARAMS,
    ),
    (
        "edit with two objects",
        "workspace/executeCommand",
        {"command": "diffcoder.edit", "arguments": [{}, {}]},
        INVALID_PARAMS,
    ),
    ("edit misspelt key", "workspace/executeCommand", edit(instructions="x"), INVALID_PARAMS),
    ("edit blank instruction", "workspace/executeCommand", edit(instruction="  "), INVALID_PARAMS),
    ("edit apply not a bool", "workspace/executeCommand", edit(apply="yes"), INVALID_PARAMS),
    (
        "edit negative line",
        "workspace/executeCommand",
        edit(position={"line": -1, "character": 0}),
        INVALID_PARAMS,
    ),
    ("edit position past the end", "workspace/executeCommand", edit(position=PAST), INVALID_PARAMS),
    (
        "edit range past the end",
        "workspace/executeCommand",
        edit(position=None, range={"start": HERE, "end": {"line": 40, "character": 0}}),
        INVALID_PARAMS,
    ),
    (
        "edit unopened document",
        "workspace/executeCommand",
        edit(textDocument={"uri": NEVER, "version": 1}),
        REQUEST_FAILED,
    ),
    (
        "edit stale version",
        "workspace/executeCommand",
        edit(textDocument={"uri": OK, "version": 9}),
        REQUEST_FAILED,
    ),
    (
        "edit oversized document",
        "workspace/executeCommand",
        edit(textDocument={"uri": BIG}),
        REQUEST_FAILED,
    ),
    (
        "edit binary document",
        "workspace/executeCommand",
        edit(textDocument={"uri": BINARY}),
        REQUEST_FAILED,
    ),
    ("edit empty uri", "workspace/executeCommand", edit(textDocument={"uri": ""}), INVALID_PARAMS),
    (
        "cancel with a number",
        "workspace/executeCommand",
        {"command": "diffcoder.cancel", "arguments": [5]},
        INVALID_PARAMS,
    ),
    (
        "cancel with two documents",
        "workspace/executeCommand",
        {"command": "diffcoder.cancel", "arguments": [{}, {}]},
        INVALID_PARAMS,
    ),
    ("inline completion without context", "textDocument/inlineCompletion", doc(), INVALID_PARAMS),
    ("inline completion params null", "textDocument/inlineCompletion", None, INVALID_PARAMS),
    (
        "inline completion past the end",
        "textDocument/inlineCompletion",
        {**doc(**INLINE_CONTEXT), "position": PAST},
        INVALID_PARAMS,
    ),
    (
        "inline completion unopened document",
        "textDocument/inlineCompletion",
        doc(NEVER, **INLINE_CONTEXT),
        "result",
    ),
    ("completion params null", "textDocument/completion", None, INVALID_PARAMS),
    (
        "completion line not a number",
        "textDocument/completion",
        {**doc(), "position": {"line": "two", "character": 0}},
        INVALID_PARAMS,
    ),
    (
        "completion past the end",
        "textDocument/completion",
        {**doc(), "position": PAST},
        INVALID_PARAMS,
    ),
    ("code action params null", "textDocument/codeAction", None, INVALID_PARAMS),
    (
        "code action range past the end",
        "textDocument/codeAction",
        code_action({"start": HERE, "end": PAST}),
        INVALID_PARAMS,
    ),
    ("resolve params null", "codeAction/resolve", None, INVALID_PARAMS),
    ("resolve data not an object", "codeAction/resolve", {"title": "x", "data": 3}, INVALID_PARAMS),
    (
        "resolve data not an edit",
        "codeAction/resolve",
        {"title": "x", "data": {"a": 1}},
        INVALID_PARAMS,
    ),
    ("status without params", "diffcoder/status", ABSENT, "result"),
    ("status params null", "diffcoder/status", None, "result"),
    ("status params a list", "diffcoder/status", [1], "result"),
    ("unknown method", "diffcoder/nothing", {}, NOT_FOUND),
    ("an LSP method the server does not offer", "textDocument/hover", doc(), NOT_FOUND),
    ("a second initialize", "initialize", {"capabilities": {}}, INVALID_REQUEST),
]
# (name, method, params): notifications; nothing to answer, nothing to show
NOTIFICATIONS: list[tuple[str, str, Any]] = [
    (
        "didChange unopened",
        "textDocument/didChange",
        {"textDocument": {"uri": NEVER, "version": 2}, "contentChanges": [{"text": "x"}]},
    ),
    ("didClose unopened", "textDocument/didClose", {"textDocument": {"uri": NEVER}}),
    ("didSave unopened", "textDocument/didSave", {"textDocument": {"uri": NEVER}}),
    ("didOpen params null", "textDocument/didOpen", None),
    ("didChange params absent", "textDocument/didChange", ABSENT),
    (
        "didChange range past the end of an unopened document",
        "textDocument/didChange",
        {
            "textDocument": {"uri": NEVER, "version": 3},
            "contentChanges": [{"range": {"start": PAST, "end": PAST}, "text": "x"}],
        },
    ),
    ("cancel an unknown request", "$/cancelRequest", {"id": 424242}),
    ("cancel params null", "$/cancelRequest", None),
    ("configuration params null", "workspace/didChangeConfiguration", None),
    ("progress cancel unknown token", "window/workDoneProgress/cancel", {"token": "nope"}),
    ("unknown notification", "diffcoder/nothing", {}),
    (
        "a notebook the server never offered",
        "notebookDocument/didClose",
        {"notebookDocument": {"uri": NEVER}, "cellTextDocuments": []},
    ),
    ("a second initialized", "initialized", {}),
]
# (name, raw body, expected code): answered with id null when no id can be read
RAW: list[tuple[str, bytes | dict[str, Any], int]] = [
    ("not JSON", b"{not json", PARSE),
    ("a batch", b"[]", INVALID_REQUEST),
    ("a string", b'"hello"', INVALID_REQUEST),
    ("no jsonrpc member", {"id": 77, "method": "diffcoder/status"}, INVALID_REQUEST),
    ("jsonrpc 1.0", {"jsonrpc": "1.0", "id": 78, "method": "diffcoder/status"},
     INVALID_REQUEST),
    ("id of the wrong type", {"jsonrpc": "2.0", "id": [1], "method": "textDocument/hover",
                              "params": 5}, INVALID_REQUEST),
]  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawServer]:
    log = tmp_path_factory.mktemp("errors") / "server.log"
    raw = RawServer(server_command("--model", str(TINY), scripted=True), log)
    raw.initialize()
    assert raw.wait_ready()["model"]["state"] == "ready"
    raw.open(OK, SOURCE)
    raw.open(BIG, "x = 1\n" * (MAX_DOCUMENT_CHARS // 6 + 1))
    raw.open(BINARY, "x = 1\x00\n")
    yield raw
    assert raw.close() == 0


def still_serving(server: RawServer, popups: int, log_before: str) -> str:
    """The server answers, showed nothing, and logged at most one line (no traceback)."""
    assert "result" in server.request("diffcoder/status", {}, timeout=10)
    assert server.popups()[popups:] == []
    new = server.log()[len(log_before) :]
    assert "Traceback" not in new and " ERROR " not in new, new
    assert len(new.splitlines()) <= 1, new
    return new


@pytest.mark.parametrize("name, method, params, expected", REQUESTS, ids=[r[0] for r in REQUESTS])
def test_each_bad_request_gets_its_error(server: RawServer, name, method, params, expected):
    popups, log = len(server.popups()), server.log()
    answer = server.request(method, params, timeout=10)
    if expected == "result":
        assert "result" in answer, answer
        written = still_serving(server, popups, log)
        assert written == "" or method == "textDocument/inlineCompletion"
    else:
        assert answer["error"]["code"] == expected, answer
        assert answer["error"]["message"]
        written = still_serving(server, popups, log)
        assert "WARNING" in written and str(expected) in written, written


@pytest.mark.parametrize("name, method, params", NOTIFICATIONS, ids=[n[0] for n in NOTIFICATIONS])
def test_each_bad_notification_is_ignored_quietly(server: RawServer, name, method, params):
    popups, log = len(server.popups()), server.log()
    server.notify(method, params)
    still_serving(server, popups, log)


@pytest.mark.parametrize("name, body, expected", RAW, ids=[r[0] for r in RAW])
def test_each_unreadable_message_gets_an_error(server: RawServer, name, body, expected):
    popups, log = len(server.popups()), server.log()
    before = len(server.messages)
    server.send(body)
    still_serving(server, popups, log)
    errors = [m for m in server.messages[before:] if "error" in m]
    assert [m["error"]["code"] for m in errors] == [expected], errors
    wanted_id = body.get("id") if isinstance(body, dict) and body.get("id") != [1] else None
    assert errors[0]["id"] == wanted_id


def test_the_messages_say_what_is_wrong(server: RawServer):
    past = server.request("workspace/executeCommand", edit(position=PAST))["error"]["message"]
    assert "line 7" in past and "7 lines" in past
    context = server.request("textDocument/inlineCompletion", doc())["error"]["message"]
    assert "context" in context and "required" in context
    unknown = server.request("workspace/executeCommand", {"command": "x"})["error"]["message"]
    assert "diffcoder.edit" in unknown and "'x'" in unknown


def test_without_apply_the_edit_is_a_preview(server: RawServer):
    args = {"textDocument": {"uri": OK, "version": 1}, "position": HERE, "instruction": "Swap"}
    applied = len(server.applied)
    reply = server.request("workspace/executeCommand", {"command": "diffcoder.edit",
                                                        "arguments": [args]})["result"]  # fmt: skip
    assert reply["outcome"] == "proposed" and reply["applied"] is False
    assert reply["edit"]["documentChanges"][0]["textDocument"] == {"uri": OK, "version": 1}
    assert len(server.applied) == applied, "the edit was applied without apply: true"
    reply = server.request("workspace/executeCommand", edit(apply=True))["result"]
    assert reply["outcome"] == "applied" and len(server.applied) == applied + 1


def change(uri: str, version: int, *changes: dict[str, Any]) -> dict[str, Any]:
    return {"textDocument": {"uri": uri, "version": version}, "contentChanges": list(changes)}


def test_a_change_past_the_end_puts_the_document_out_of_sync(server: RawServer):
    uri = "file:///tmp/errors/sync.py"
    server.open(uri, SOURCE, version=1)
    popups, log = len(server.popups()), server.log()
    bad = {"range": {"start": {"line": 30, "character": 0}, "end": PAST}, "text": "lost\n"}
    server.notify("textDocument/didChange", change(uri, 2, bad))
    assert "out of sync" in still_serving(server, popups, log)
    refused = server.request("workspace/executeCommand", edit(textDocument={"uri": uri}))
    assert refused["error"]["code"] == REQUEST_FAILED
    assert "out of sync" in refused["error"]["message"] and "reopen" in refused["error"]["message"]
    # the whole text again puts it back in step
    server.notify("textDocument/didChange", change(uri, 3, {"text": SOURCE}))
    reply = server.request("workspace/executeCommand", edit(textDocument={"uri": uri}, apply=False))
    assert reply["result"]["outcome"] == "proposed"


def test_a_version_that_goes_back_is_applied_with_a_warning(server: RawServer):
    uri = "file:///tmp/errors/versions.py"
    server.open(uri, SOURCE, version=5)
    popups, log = len(server.popups()), server.log()
    server.notify("textDocument/didChange", change(uri, 3, {"text": SOURCE + "# more\n"}))
    assert "versions must increase" in still_serving(server, popups, log)
    reply = server.request(
        "workspace/executeCommand", edit(textDocument={"uri": uri, "version": 3}, apply=False)
    )["result"]
    assert reply["outcome"] == "proposed" and reply["version"] == 3


def test_a_bug_is_an_internal_error_with_its_traceback_in_the_log(server: RawServer):
    uri = "file:///tmp/errors/bug.py"
    server.open(uri, f"def f():\n    return '{BUG}'\n")
    popups, log = len(server.popups()), server.log()
    answer = server.request("workspace/executeCommand", edit(textDocument={"uri": uri}))
    assert answer["error"]["code"] == INTERNAL and "a scripted bug" in answer["error"]["message"]
    new = server.log()[len(log) :]
    assert "Traceback" in new and "RuntimeError: a scripted bug" in new
    assert server.popups()[popups:] == []  # a request's failure is its answer
    assert "result" in server.request("diffcoder/status", {})


def fresh(tmp_path: Path, *args: str) -> RawServer:
    return RawServer(server_command("--no-demo-model", *args), tmp_path / "server.log")


def test_before_initialize_requests_are_refused_and_notifications_dropped(tmp_path: Path):
    server = fresh(tmp_path)
    answer = server.request("diffcoder/status", {})
    assert answer["error"]["code"] == NOT_INITIALIZED
    server.notify("textDocument/didOpen", {"textDocument": {
        "uri": OK, "languageId": "python", "version": 1, "text": SOURCE}})  # fmt: skip
    assert server.request("initialize", None)["error"]["code"] == INVALID_PARAMS
    assert "result" in server.initialize()
    refused = server.request("workspace/executeCommand", edit())  # the early didOpen was dropped
    assert refused["error"]["code"] == REQUEST_FAILED and "not open" in refused["error"]["message"]
    assert server.popups() == [] and "Traceback" not in server.log()
    assert server.close() == 0


def test_after_shutdown_only_exit_is_accepted(tmp_path: Path):
    server = fresh(tmp_path)
    server.initialize()
    assert server.request("shutdown")["result"] is None
    for method, params in (("diffcoder/status", {}), ("shutdown", ABSENT), ("initialize", {})):
        assert server.request(method, params, timeout=10)["error"]["code"] == INVALID_REQUEST
    server.notify("textDocument/didOpen", None)  # ignored, answered by nothing
    server.notify("exit")
    assert server.wait() == 0
    assert "Traceback" not in server.log() and server.popups() == []


@pytest.mark.parametrize("how", ["exit", "end of input"])
def test_leaving_without_shutdown_exits_with_1(tmp_path: Path, how: str):
    server = fresh(tmp_path)
    server.initialize()
    assert "result" in server.request("diffcoder/status")
    if how == "exit":
        server.notify("exit")
    else:
        assert server.process.stdin is not None
        server.process.stdin.close()
    assert server.wait() == 1
    assert "without shutdown" in server.log() and "Traceback" not in server.log()


def test_with_v_a_refusal_is_still_one_line(tmp_path: Path):
    server = fresh(tmp_path, "-v")
    server.initialize()
    assert "result" in server.request("diffcoder/status", {})  # initialized has run
    popups, log = len(server.popups()), server.log()
    answer = server.request("workspace/executeCommand", edit(textDocument={"uri": NEVER}))
    assert answer["error"]["code"] == REQUEST_FAILED
    new = still_serving(server, popups, log)
    assert "WARNING" in new and "not open" in new
    assert server.close() == 0


def test_exit_before_initialize_exits_with_1(tmp_path: Path):
    server = fresh(tmp_path)
    server.notify("exit")
    assert server.wait() == 1
