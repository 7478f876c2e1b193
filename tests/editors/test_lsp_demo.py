"""`make demo`'s main job: the LSP demo runs against the real server process and reports the
region, the diff or the reason for refusing, and the model/server timing split.
"""

from __future__ import annotations

import re

from diffcoder.cli.lsp_demo import run_lsp_demo
from diffcoder.lsp_server.client import apply_workspace_edit, lsp_position


def test_demo_runs_end_to_end(capsys):
    assert run_lsp_demo(max_new_tokens=16) == 0
    out = capsys.readouterr().out
    assert "region: function `mean`" in out
    assert "diff:" in out or "refused, nothing to apply:" in out
    # no --model: the embedded demo model, named as such; a refused answer is still shown
    assert "ready in" in out and ": demo model:" in out
    if "refused, nothing to apply: the model's code adds syntax errors" in out:
        assert "what the model wrote (not applied):" in out and "+++ b/the refused answer" in out
    assert "Inline completion" in out
    assert re.search(r"instruction edit +[\d.]+ ms = model +[\d.]+ ms \+ server +[\d.]+ ms", out)
    assert re.search(r"inline completion +[\d.]+ ms = model +[\d.]+ ms \+ server", out)


def test_positions_and_edits_use_utf16_columns():
    text = 'a = "😀"; b = 1\nc = 2\n'  # the emoji is two UTF-16 units
    at = text.index("b =")
    assert lsp_position(text, at) == {"line": 0, "character": 10}
    assert lsp_position(text, at, "utf-32") == {"line": 0, "character": 9}
    edit = {
        "documentChanges": [
            {
                "textDocument": {"uri": "file:///x.py", "version": 1},
                "edits": [
                    {
                        "range": {
                            "start": {"line": 0, "character": 10},
                            "end": {"line": 0, "character": 11},
                        },
                        "newText": "bb",
                    }
                ],
            }
        ]
    }
    assert apply_workspace_edit(text, edit) == 'a = "😀"; bb = 1\nc = 2\n'
