"""The `diffcoder` parser: every command the README lists registers itself with a handler, and
`--help` or a bad argument anywhere answers without importing torch or transformers.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from diffcoder.cli.main import build_parser

# The commands are a contract (README); adding one is fine, losing one is not.
COMMANDS = {
    (): {"generate", "make-tiny-checkpoint", "bench", "scope", "edit", "eval", "train", "demo"},
    ("bench",): {"decode", "draft", "scope", "lsp", "demo-model", "all"},
    ("eval",): {"edit", "infill", "masked"},
}


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    children = subcommands(parser)
    if not children:
        yield path, parser
    for name, child in children.items():
        yield from leaves(child, (*path, name))


def test_every_command_is_registered_with_a_handler():
    parser = build_parser()
    assert COMMANDS[()] <= set(subcommands(parser))
    for path in (("bench",), ("eval",)):
        assert COMMANDS[path] <= set(subcommands(subcommands(parser)[path[0]]))
    found = dict(leaves(parser))
    assert len(found) >= 15
    without = [
        " ".join(path) for path, leaf in found.items() if not callable(leaf.get_default("run"))
    ]
    assert without == []


# Runs in a fresh interpreter: the test process itself has long imported torch.
PROBE = """
import argparse, contextlib, io, json, sys
from diffcoder.cli.main import build_parser

def walk(parser, path=()):
    yield path
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from walk(child, (*path, name))

codes = {}
for argv in [[*path, "--help"] for path in walk(build_parser())] + json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            build_parser().parse_args(argv)
            codes[" ".join(argv)] = None
        except SystemExit as exit_:
            codes[" ".join(argv)] = exit_.code
heavy = sorted(m for m in ("torch", "transformers") if m in sys.modules)
print(json.dumps({"codes": codes, "heavy": heavy}))
"""
INVALID = [
    [],
    ["no-such-command"],
    ["generate", "--prompt", "x", "--threshold", "2"],
    ["generate", "--prompt", "x", "--prompt-file", "p.txt"],
    ["edit", "--file", "f.py"],
    ["scope", "--file", "f.py", "--range", "3-4"],
    ["eval", "edit", "--dataset", "d.jsonl", "--format", "nope"],
    ["eval", "infill", "--dataset", "d.jsonl", "--limit", "0"],
    ["bench", "lsp", "--repeats", "many"],
    ["train"],
    ["make-tiny-checkpoint"],
]


def test_help_and_argument_errors_import_no_torch():
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(INVALID)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(probe.stdout)
    assert result["heavy"] == []
    codes = result["codes"]
    helps = {argv: code for argv, code in codes.items() if argv.endswith("--help")}
    assert len(helps) >= 18 and set(helps.values()) == {0}
    assert "bench demo-model --help" in helps and "eval masked --help" in helps
    assert [codes[" ".join(argv)] for argv in INVALID] == [2] * len(INVALID)
