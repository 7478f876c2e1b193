"""docs/lsp.md's "Limits and defaults" and "Errors" tables say what the code does: each value in
the first is read from the constant it documents, and the second lists exactly the error codes the
server can send. (Settings defaults: test_settings_defaults.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.capabilities import ServerCapabilitiesBuilder
from pygls.workspace import Workspace

from diffcoder.editing.text_checks import MAX_DOCUMENT_CHARS
from diffcoder.lsp_server import code_actions, editor, edits, infill, rpc, transport, work_done
from diffcoder.lsp_server.documents import REQUEST_FAILED, InternalError, encoding_name
from diffcoder.lsp_server.protocol import EditArgs
from diffcoder.lsp_server.settings import Settings

DOCS = (Path(__file__).parents[2] / "docs" / "lsp.md").read_text(encoding="utf-8")


def table(title: str) -> list[list[str]]:
    section = DOCS.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[1:]]


LIMITS = {row[0]: row[1] for row in table("Limits and defaults")}
SETTINGS = Settings()


def seconds(value: float) -> str:
    return f"{value:g} s"


def test_the_tables_were_read():
    assert len(LIMITS) >= 10 and len(table("Errors")) >= 8


@pytest.mark.parametrize(
    "row, expected",
    [
        ("`diffcoder.edit` `apply`", "`false`" if not EditArgs.model_fields["apply"].default
         else "`true`"),
        ("document size", f"{MAX_DOCUMENT_CHARS // 2**20} MiB ({MAX_DOCUMENT_CHARS} characters)"),
        ("a loading model: edits wait", seconds(edits.MODEL_WAIT_S)),
        ("a loading model: infills wait", seconds(infill.MODEL_WAIT_S)),
        ("infill debounce", f"{SETTINGS.inline.debounce_ms} ms"),
        ("the editor's `workspace/applyEdit` answer", seconds(SETTINGS.edit.apply_timeout_s)),
        ("the editor's `workspace/configuration` answer", seconds(editor.CONFIGURATION_WAIT_S)),
        ("the editor's `window/workDoneProgress/create` answer", seconds(work_done.CREATE_WAIT_S)),
        ("`Fix` code actions", f"the first {code_actions.MAX_DIAGNOSTIC_ACTIONS} diagnostics"),
        ("a refused second TCP client", seconds(transport.REFUSAL_WAIT_S)),
    ],
)  # fmt: skip
def test_each_documented_limit_is_the_code(row: str, expected: str):
    assert expected in LIMITS[row]


def test_apply_defaults_to_a_preview():
    args = EditArgs.model_validate({"textDocument": {"uri": "file:///a.py"}, "instruction": "x"})
    assert args.apply is False
    assert LIMITS["`diffcoder.edit` `apply`"].startswith("`false`")


def test_edit_titles_use_the_documented_length():
    assert edits.TITLE_CHARS == 60 and "first 60 characters" in DOCS


@pytest.mark.parametrize(
    "offered, chosen",
    [
        (None, "utf-16"),
        ([], "utf-16"),
        (["utf-8"], "utf-8"),
        (["utf-32", "utf-8"], "utf-32"),
        (["latin-1", "utf-8", "utf-16"], "utf-8"),
        (["latin-1"], "utf-16"),
    ],
)
def test_the_position_encoding_is_the_clients_first_known(offered, chosen):
    general = types.GeneralClientCapabilities(position_encodings=offered)
    caps = types.ClientCapabilities(general=general)
    encoding = ServerCapabilitiesBuilder.choose_position_encoding(caps)
    assert encoding_name(Workspace(None, position_encoding=encoding)) == chosen
    assert "`utf-8`, `utf-16`, `utf-32`), else `utf-16`" in LIMITS["position encoding"]


def test_the_error_table_lists_every_code_the_server_sends():
    sent = {
        rpc.PARSE_ERROR: "ParseError",
        rpc.INVALID_REQUEST: "InvalidRequest",
        rpc.METHOD_NOT_FOUND: "MethodNotFound",
        rpc.INVALID_PARAMS: "InvalidParams",
        InternalError.CODE: "InternalError",
        rpc.SERVER_NOT_INITIALIZED: "ServerNotInitialized",
        rpc.REQUEST_CANCELLED: "RequestCancelled",
        REQUEST_FAILED: "RequestFailed",
    }
    assert transport.REQUEST_FAILED == REQUEST_FAILED
    documented = {int(row[0]): row[1] for row in table("Errors")}
    assert documented == sent
    for row in table("Errors"):
        assert len(row) == 4 and all(row), row  # code, name, when, what to do
    # the names are LSP's own
    for code, name in sent.items():
        known = {e.value: e.name for e in (*types.ErrorCodes, *types.LSPErrorCodes)}
        assert known[code] == name


def test_the_docs_name_no_error_code_outside_the_table():
    codes = {int(c) for c in re.findall(r"-32\d{3}", DOCS)}
    assert codes <= {int(row[0]) for row in table("Errors")}
