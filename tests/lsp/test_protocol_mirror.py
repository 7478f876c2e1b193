"""The extension's `src/lsp_ext.ts` mirrors `diffcoder/lsp_server/protocol.py`: the same names and
values, the same outcome and model-state lists, the same interfaces with the same keys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from diffcoder.lsp_server import protocol

LSP_EXT = Path(__file__).parents[2] / "extensions" / "vscode" / "src" / "lsp_ext.ts"
SOURCE = LSP_EXT.read_text(encoding="utf-8")
# LSP's own shapes: the extension takes them from vscode-languageserver-protocol.
LSP_OWN = {"Position", "Range"}


def ts_strings(source: str) -> dict[str, str]:
    found = re.findall(r"^export const (\w+) = '([^']*)';", source, re.MULTILINE)
    return dict(found)


def ts_lists(source: str) -> dict[str, list[str]]:
    found = re.findall(r"^export const (\w+) = \[([^\]]*)\] as const;", source, re.MULTILINE)
    return {name: re.findall(r"'([^']*)'", items) for name, items in found}


def ts_interfaces(source: str) -> dict[str, set[str]]:
    """Each exported interface's keys (one per line, optional or not)."""
    blocks = re.findall(r"^export interface (\w+) \{\n(.*?)^\}", source, re.MULTILINE | re.DOTALL)
    return {name: set(re.findall(r"^    (\w+)\??:", body, re.MULTILINE)) for name, body in blocks}


def py_models() -> dict[str, type[BaseModel]]:
    return {
        name: value
        for name, value in vars(protocol).items()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and value.__module__ == protocol.__name__
        and not name.startswith("_")
        and name not in LSP_OWN
    }


def wire_keys(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def test_the_parsers_see_the_file():
    # the comparisons below mean something only if the TypeScript was read
    assert len(ts_strings(SOURCE)) >= 5
    assert set(ts_lists(SOURCE)) == {"OUTCOMES", "MODEL_STATES"}
    assert len(ts_interfaces(SOURCE)) >= 10


def test_names_and_titles_agree():
    python = {
        name: value
        for name, value in vars(protocol).items()
        if name.isupper() and isinstance(value, str)
    }
    assert {"STATUS_REQUEST", "EDIT_COMMAND", "CANCEL_COMMAND", "LOAD_PROGRESS_TITLE"} <= set(
        python
    )
    assert ts_strings(SOURCE) == python


def test_outcomes_and_model_states_agree():
    lists = ts_lists(SOURCE)
    assert lists["OUTCOMES"] == list(protocol.OUTCOMES)
    assert lists["MODEL_STATES"] == list(protocol.MODEL_STATES)
    assert set(protocol.OUTCOMES) == {
        "proposed",
        "applied",
        "refused",
        "cancelled",
        "stale",
        "failed",
    }


def test_the_same_interfaces_exist_on_both_sides():
    assert set(ts_interfaces(SOURCE)) == set(py_models())


@pytest.mark.parametrize("name", sorted(py_models()))
def test_interface_keys_agree(name: str):
    assert ts_interfaces(SOURCE)[name] == wire_keys(py_models()[name])


def test_the_edit_reply_keeps_every_key_clients_read():
    keys = wire_keys(protocol.EditReply)
    legacy = {"applied", "edit", "region", "finishReason", "rejected", "cancelled", "reason"}
    assert legacy | {"proposal", "proposalRange", "version", "stats", "outcome", "detail"} == keys
    assert wire_keys(protocol.EditStats) == {
        "generatedTokens",
        "promptTokens",
        "forwards",
        "forwardsPerToken",
        "draftAcceptedTokens",
        "draftAcceptedShare",
        "modelSeconds",
        "serverSeconds",
    }
    assert wire_keys(protocol.EditRegion) == {"range", "kind", "reason", "name"}
    assert wire_keys(protocol.StatusReply) == {"model", "inFlight", "lastInfill", "settings"}


def test_a_mismatch_is_caught():
    # the check itself: a renamed key on the TypeScript side must show up as a difference
    broken = SOURCE.replace("    finishReason: string;", "    finish_reason: string;")
    assert ts_interfaces(broken)["EditReply"] != wire_keys(protocol.EditReply)
    renamed = SOURCE.replace("'diffcoder/status'", "'diffcoder/state'")
    assert ts_strings(renamed) != ts_strings(SOURCE)
    dropped = ts_lists(SOURCE.replace("'stale', ", ""))["OUTCOMES"]
    assert dropped != list(protocol.OUTCOMES)
