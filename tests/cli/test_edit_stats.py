"""`diffcoder edit` shows what the draft saved: forwards per token and the draft's accepted share,
in its verdict line and in `--json`."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from diffcoder.cli.main import main
from diffcoder.testing.scripted_backend import ScriptedBackend
from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint

SOURCE = "def mean(xs):\n    return sum(xs) / len(xs)\n"
ANSWER = "def mean(xs):\n    return sum(xs) / max(len(xs), 1)\n```"


class DraftingBackend(ScriptedBackend):
    """A scripted answer decoded in 4 forwards, 3 of every 4 tokens accepted from the draft."""

    def generate(self, prompt_ids, config, **options):
        result = super().generate(prompt_ids, config, **options)
        tokens = len(result.token_ids)
        return replace(result, nfe=tokens // 4, draft_accepted_tokens=tokens * 3 // 4)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("edit-stats") / "tiny", seed=3)


@pytest.fixture
def run(ckpt, tmp_path, monkeypatch, capsys):
    import diffcoder.cli.edit as edit_module

    backends = []

    def scripted(args):
        backends.append(DraftingBackend.from_checkpoint(args.model, ANSWER, steps=1))
        return backends[-1]

    monkeypatch.setattr(edit_module, "backend_from_args", scripted)
    path = tmp_path / "mean.py"
    path.write_text(SOURCE, "utf-8")

    def go(*extra: str):
        argv = ["edit", "--model", str(ckpt), "--file", str(path), "--line", "1", *extra]
        code = main([*argv, "--instruction", "Avoid dividing by zero."])
        return code, capsys.readouterr()

    return go


def test_the_verdict_line_shows_forwards_per_token_and_draft_share(run):
    code, captured = run()
    assert code == 0 and "+    return sum(xs) / max(len(xs), 1)" in captured.out
    verdict = captured.err.strip().splitlines()[-1]
    assert verdict.startswith("[kept]")
    figures = dict(part.rsplit(" ", 1) for part in verdict.split("] ", 1)[1].split(", "))
    tokens = int(figures["generated_tokens"])
    assert int(figures["nfe"]) == tokens // 4 and tokens >= 8
    assert float(figures["forwards_per_token"]) == round((tokens // 4) / tokens, 4)
    assert float(figures["draft_accepted_share"]) == round((tokens * 3 // 4) / tokens, 4)


def test_json_carries_the_same_figures(run):
    code, captured = run("--json")
    out = json.loads(captured.out)
    assert code == 0 and out["outcome"] == "proposed"
    tokens = out["generated_tokens"]
    assert out["forwards_per_token"] == round(out["nfe"] / tokens, 4) < 0.3
    assert out["draft_accepted_share"] == round(out["draft_accepted_tokens"] / tokens, 4) > 0.7
