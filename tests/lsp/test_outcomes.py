"""Each way an edit ends, as `diffcoder.edit` answers it: the typed `outcome` and `detail`, and the
older keys (applied, edit, rejected, cancelled, reason, proposal) exactly as clients read them."""

from __future__ import annotations

import threading

import pytest

from diffcoder.editing.edit_pipeline import EditRequest, run_edit
from diffcoder.lsp_server.documents import DocumentSnapshot
from diffcoder.lsp_server.edit_report import refusal_detail
from diffcoder.lsp_server.edits import NO_CHANGE, EditOutcome, workspace_edit
from diffcoder.testing.scripted_backend import ScriptedBackend
from tests.lsp.conftest import TINY

TEXT = "def add(a, b):\n    return a + b\n"
SWAPPED = "def add(a, b):\n    return b + a\n"
DOC = DocumentSnapshot(
    uri="file:///a.py", version=3, text=TEXT, language_id="python", path="/a.py", encoding="utf-16"
)


def pipeline(answer: str, *, cancelled: bool = False) -> EditOutcome:
    backend = ScriptedBackend.from_checkpoint(TINY, answer, steps=2)
    flag = threading.Event()
    if cancelled:
        flag.set()
    request = EditRequest(text=TEXT, instruction="Swap the operands", language="python", cursor=20)
    result = run_edit(backend, request, cancel=flag)
    edit = workspace_edit(DOC, result, document_changes=True) if result.proposed else None
    return EditOutcome(
        outcome=result.outcome,
        detail=result.detail,
        doc=DOC,
        result=result,
        edit=edit,
        request_seconds=1.0,
    )


@pytest.fixture(scope="module")
def proposed() -> EditOutcome:
    return pipeline(SWAPPED)


def legacy(reply: dict) -> dict:
    keys = ("applied", "rejected", "cancelled", "reason", "proposal", "outcome", "detail")
    return {key: reply[key] for key in keys} | {"has_edit": reply["edit"] is not None}


def test_a_proposal(proposed: EditOutcome):
    reply = proposed.reply().to_json()
    assert legacy(reply) == {
        "applied": False,
        "rejected": None,
        "cancelled": False,
        "reason": None,
        "proposal": None,
        "outcome": "proposed",
        "detail": None,
        "has_edit": True,
    }
    assert reply["edit"]["documentChanges"][0]["textDocument"] == {"uri": DOC.uri, "version": 3}
    assert reply["version"] == 3 and reply["finishReason"] == "stop"
    assert reply["region"]["kind"] == "function" and reply["region"]["name"] == "add"
    generation = proposed.result.generation
    assert reply["stats"]["forwards"] == generation.nfe == 2
    assert reply["stats"]["generatedTokens"] == len(generation.token_ids) > 0
    assert reply["stats"]["serverSeconds"] == round(1.0 - generation.model_seconds, 4)


@pytest.mark.parametrize(
    "outcome, detail, applied, reason",
    [
        ("applied", None, True, None),
        ("stale", "file:///a.py changed while the edit was computed", False, "changed"),
        ("failed", "the editor refused workspace/applyEdit", False, "refused"),
        ("proposed", NO_CHANGE, False, "no change"),
    ],
)
def test_what_the_server_decides_after_a_proposal(proposed, outcome, detail, applied, reason):
    reply = proposed.but(outcome, detail).reply().to_json()
    assert reply["outcome"] == outcome and reply["detail"] == detail
    assert reply["applied"] is applied and reply["cancelled"] is False
    assert reply["rejected"] is None and reply["edit"] is not None
    assert reply["reason"] is None if reason is None else reason in reply["reason"]


def test_a_refused_answer_shows_what_the_model_wrote():
    refused = pipeline("def add(a, b:\n    return (b +\n")
    reply = refused.reply().to_json()
    assert reply["outcome"] == "refused" and "syntax errors" in reply["detail"]
    assert reply["reason"] == reply["detail"]
    assert reply["rejected"] == refused.result.detail  # the pipeline's short reason
    assert reply["applied"] is False and reply["cancelled"] is False and reply["edit"] is None
    assert reply["proposal"] is not None and "return (b +" in reply["proposal"]


def test_a_cancelled_edit():
    reply = pipeline(SWAPPED, cancelled=True).reply().to_json()
    assert legacy(reply) == {
        "applied": False,
        "rejected": "cancelled",
        "cancelled": True,
        "reason": "cancelled",
        "proposal": None,
        "outcome": "cancelled",
        "detail": "cancelled",
        "has_edit": False,
    }
    assert reply["finishReason"] == "cancelled" and reply["stats"]["forwards"] == 0


def test_an_answer_that_did_not_end_shows_its_unfinished_text_and_why():
    backend = ScriptedBackend.from_checkpoint(
        TINY, "def add(a, b):\n    return b + a + a", steps=2, finish_reason="length"
    )
    request = EditRequest(text=TEXT, instruction="Swap the operands", language="python", cursor=20)
    result = run_edit(backend, request)
    detail = refusal_detail(result, DOC, budget=77)
    refused = EditOutcome("refused", detail, DOC, result, None, 1.0)
    reply = refused.reply().to_json()
    assert reply["outcome"] == "refused" and reply["edit"] is None
    assert "did not end within its budget of 77 tokens" in reply["detail"]
    assert "edit.maxNewTokens" in reply["detail"] and "lines 1–2" in reply["detail"]
    assert reply["proposal"] is not None and "return b + a + a" in reply["proposal"]
    assert reply["proposalRange"] == {
        "start": {"line": 0, "character": 0},
        "end": {"line": 2, "character": 0},
    }


def test_only_a_refused_answer_has_a_proposal_range(proposed):
    assert proposed.reply().to_json()["proposalRange"] is None
    refused = pipeline("def add(a, b:\n    return (b +\n").reply().to_json()
    assert refused["proposalRange"]["start"] == {"line": 0, "character": 0}
