"""`diffcoder eval edit --via lsp`: the real `diffcoder-lsp` over stdio gives the same edits as the
in-process pipeline (tiny random checkpoint, and a scripted engine whose edits are kept), refuses
sampling it cannot do, and leaves no server process behind.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from diffcoder.cli.main import main
from diffcoder.evaluation.attempts import BackendUnavailable
from diffcoder.evaluation.backends import DOCUMENT_URI, DirectBackend, LspBackend
from diffcoder.evaluation.datasets import EditProblem, load_edit_problems
from diffcoder.evaluation.edit_eval import EvalSettings, evaluate_edits
from diffcoder.lsp_server.client import apply_workspace_edit

# One thread per server: the tests run on a 2-core machine next to the in-process model.
SERVER_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
SCRIPTED = [sys.executable, str(Path(__file__).parents[1] / "lsp" / "scripted_server.py")]
COMPARED = ("id", "new_text", "rejected", "finish_reason", "region_kind", "nfe", "generated_tokens")


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The in-process model decodes on one thread too, like the server: the same arithmetic, and
    no OpenMP spinning against the server (or anything else) on two cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def compared(records: list[dict]) -> list[dict]:
    return [{key: record[key] for key in COMPARED} for record in records]


def assert_gone(backend: LspBackend) -> None:
    assert backend.process.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(backend.process.pid, 0)  # reaped, so the id no longer exists


def test_cli_via_lsp_matches_direct_on_the_whole_file(
    eval_ckpt, canitedit_rows, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # passed on to the server
    argv = ["eval", "edit", "--dataset", str(canitedit_rows), "--format", "canitedit"]
    argv += ["--model", str(eval_ckpt), "--device", "cpu", "--limit", "3", "--json"]
    results = {}
    for via in ("direct", "lsp"):
        out = tmp_path / f"{via}.jsonl"
        assert main([*argv, "--via", via, "--out", str(out)]) == 0
        assert json.loads(capsys.readouterr().out)["via"] == via
        results[via] = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert len(results["lsp"]) == 3 and {r["via"] for r in results["lsp"]} == {"lsp"}
    assert compared(results["lsp"]) == compared(results["direct"])
    assert all(r["latency_seconds"] > 0 and r["nfe"] >= 1 for r in results["lsp"])


def test_backend_matches_direct_at_the_cursor_and_the_server_goes(eval_ckpt, canitedit_rows):
    from diffcoder.model.engine import load_engine
    from diffcoder.model.types import LoadOptions

    problems = load_edit_problems(canitedit_rows, "canitedit", limit=3)
    settings = EvalSettings(scope="cursor")
    backend = LspBackend(str(eval_ckpt), device="cpu", env=SERVER_ENV)
    try:
        assert backend.model["state"] == "ready"
        via_lsp = evaluate_edits(backend, problems, settings, log=None)
    finally:
        backend.close()
    assert_gone(backend)
    backend.close()  # idempotent
    direct = DirectBackend(load_engine(eval_ckpt, LoadOptions(device="cpu")))
    via_direct = evaluate_edits(direct, problems, settings, log=None)
    assert compared(via_lsp) == compared(via_direct)
    kinds = {"function", "method", "class", "statements", "file", "lines"}
    assert {r["region_kind"] for r in via_lsp} <= kinds


def test_kept_edits_with_astral_characters_match_direct(eval_ckpt):
    # The scripted engine rewrites `a + b` as `b + a`: real replacements cross the protocol in
    # UTF-16 positions, after an emoji that is two UTF-16 units but one Python character.
    from diffcoder.testing.scripted_backend import ScriptedBackend
    from tests.lsp.scripted_server import scripted_edit

    before = 'def add(a, b):\n    s = "😀数"; return a + b\n\n\ndef sub(a, b):\n    return a - b\n'
    problem = EditProblem(
        id="astral", before=before, after=before.replace("a + b", "b + a"), tests="",
        instruction="Swap the operands", change_kind="corrective",
    )  # fmt: skip
    scopes = [EvalSettings(scope=scope) for scope in ("file", "cursor")]
    backend = LspBackend(str(eval_ckpt), launcher=SCRIPTED, env=SERVER_ENV)
    try:
        via_lsp = [evaluate_edits(backend, [problem], s, log=None)[0] for s in scopes]
    finally:
        backend.close()
    assert_gone(backend)
    scripted = ScriptedBackend.from_checkpoint(
        eval_ckpt, lambda call: scripted_edit(call.draft_text)
    )
    direct = DirectBackend(scripted)
    via_direct = [evaluate_edits(direct, [problem], s, log=None)[0] for s in scopes]
    assert compared(via_lsp) == compared(via_direct)
    results = {s.scope: record for s, record in zip(scopes, via_lsp, strict=True)}
    for record in results.values():
        assert record["new_text"] == problem.after and not record["rejected"] and record["passed"]
    assert results["file"]["region_kind"] == "selection"


def test_sampling_and_unsupported_load_options_are_refused(eval_ckpt, canitedit_rows, capsys):
    argv = ["eval", "edit", "--dataset", str(canitedit_rows), "--format", "canitedit"]
    argv += ["--model", str(eval_ckpt), "--via", "lsp"]
    assert main([*argv, "--samples", "2"]) == 2
    assert "--via lsp decodes greedily" in capsys.readouterr().err
    assert main([*argv, "--temperature", "0.3"]) == 2
    assert "--temperature 0.3" in capsys.readouterr().err
    assert main([*argv, "--dtype", "float32"]) == 2
    assert "--dtype" in capsys.readouterr().err
    backend = object.__new__(LspBackend)  # edit() refuses before it talks to any server
    with pytest.raises(ValueError, match="greedily"):
        backend.edit("x = 1\n", "Add a comment", None, temperature=0.2, seed=0)  # type: ignore[arg-type]


def test_a_model_that_cannot_load_is_a_clear_error_and_no_process_stays(tmp_path, monkeypatch):
    started: list[LspBackend] = []
    original = LspBackend._initialize

    def remember(self: LspBackend, load_timeout: float) -> None:
        started.append(self)
        original(self, load_timeout)

    monkeypatch.setattr(LspBackend, "_initialize", remember)
    with pytest.raises(BackendUnavailable, match="could not be loaded"):
        LspBackend(str(tmp_path / "missing"), device="cpu", env=SERVER_ENV)
    (backend,) = started
    assert_gone(backend)


def test_a_reply_becomes_an_attempt_with_the_stats_renamed():
    backend = object.__new__(LspBackend)  # no server: only the reply's conversion
    backend.encoding = "utf-16"
    text = "x = 1\n"
    edit = {"range": {"start": {"line": 0, "character": 4}, "end": {"line": 0, "character": 5}}}
    answer = {
        "finishReason": "stop",
        "rejected": None,
        "region": {"kind": "statements"},
        "edit": {"changes": {DOCUMENT_URI: [{**edit, "newText": "2"}]}},
        "stats": {"forwards": 4, "generatedTokens": 10, "draftAcceptedTokens": 3},
    }
    answer["stats"] |= {"modelSeconds": 0.25, "forwardsPerToken": 0.4, "draftAcceptedShare": 0.3}
    attempt = backend._attempt(text, answer, 0.5)
    assert attempt.new_text == "x = 2\n" and attempt.region_kind == "statements"
    assert (attempt.finish_reason, attempt.nfe, attempt.generated_tokens) == ("stop", 4, 10)
    assert attempt.tokens_per_forward == 2.5 and attempt.draft_accepted_tokens == 3
    assert (attempt.model_seconds, attempt.seconds) == (0.25, 0.5)
    assert (attempt.forwards_per_token, attempt.draft_accepted_share) == (0.4, 0.3)
    refused = backend._attempt(text, {**answer, "rejected": "adds syntax errors"}, 0.5)
    assert refused.new_text == text and refused.rejected == "adds syntax errors"


def test_workspace_edits_apply_in_either_shape():
    text = "a😀b\nline two\n"
    edit = {"range": {"start": {"line": 0, "character": 3}, "end": {"line": 0, "character": 4}}}
    edit["newText"] = "B"
    uri, expected = "untitled:program.py", "a😀B\nline two\n"
    assert apply_workspace_edit(text, {"changes": {uri: [edit]}}, uri, "utf-16") == expected
    document = {"textDocument": {"uri": uri, "version": 1}, "edits": [edit]}
    assert apply_workspace_edit(text, {"documentChanges": [document]}, uri, "utf-16") == expected
    assert (
        apply_workspace_edit(text, {"documentChanges": [document]}, "file:///other.py", "utf-16")
        == text
    )
    assert apply_workspace_edit(text, None, uri, "utf-16") == text
