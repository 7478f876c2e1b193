"""Run the real `diffcoder` CLI in a subprocess with a scripted model: the checkpoint's tokenizer,
answers from a script (`ScriptedBackend`), so exit codes, messages and files can be pinned down
for every outcome without depending on what a random model writes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# The subprocess: `backend_from_args` of `edit` and `generate` becomes a scripted backend that
# says on stderr when it is built ("MODEL LOADING") and when it starts decoding ("DECODING").
RUNNER = r"""
import json, os, sys
from pathlib import Path
from diffcoder.cli import edit, generate
from diffcoder.cli.main import main
from diffcoder.testing.scripted_backend import ScriptedBackend

script = json.loads(os.environ["DIFFCODER_TEST_SCRIPT"])

def answer(call):
    print("DECODING", file=sys.stderr, flush=True)
    if script.get("change_file"):
        path, text = script["change_file"]
        Path(path).write_text(text, encoding="utf-8")
    return script["answer"]

def scripted(args):
    print("MODEL LOADING", file=sys.stderr, flush=True)
    return ScriptedBackend.from_checkpoint(
        args.model, answer, finish_reason=script.get("finish", "stop"),
        steps=script.get("steps", 1), step_delay=script.get("delay", 0.0),
    )

edit.backend_from_args = scripted
generate.backend_from_args = scripted
sys.exit(main(sys.argv[1:]))
"""


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def loaded(self) -> bool:
        return "MODEL LOADING" in self.err or "Loading " in self.err

    def json(self) -> dict:
        return json.loads(self.out)


def _env(script: dict) -> dict[str, str]:
    return {**os.environ, "DIFFCODER_TEST_SCRIPT": json.dumps(script)}


def run_scripted(argv: list[str], script: dict | None = None, timeout: float = 120) -> Run:
    """`diffcoder ARGV` with the scripted model (`answer`, `finish`, `steps`, `delay`,
    `change_file`: [path, text] written while it decodes)."""
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, *argv],
        capture_output=True,
        text=True,
        env=_env(script or {"answer": ""}),
        timeout=timeout,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def run_cli(argv: list[str], timeout: float = 300) -> Run:
    """The real `python -m diffcoder ARGV`, real models and all."""
    done = subprocess.run(
        [sys.executable, "-m", "diffcoder", *argv], capture_output=True, text=True, timeout=timeout
    )
    return Run(done.returncode, done.stdout, done.stderr)


def interrupt_while_decoding(argv: list[str], script: dict, timeout: float = 120) -> Run:
    """`diffcoder ARGV` with a slow scripted model, sent Ctrl-C (SIGINT) once it decodes."""
    process = subprocess.Popen(
        [sys.executable, "-c", RUNNER, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(script),
    )
    assert process.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    for line in process.stderr:  # a line at a time until decoding starts
        seen.append(line)
        if line.startswith("DECODING") or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=timeout)
    return Run(process.returncode, out, "".join(seen) + err)


def tiny_checkpoint_dir(root: Path) -> Path:
    from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint

    return make_tiny_checkpoint(root / "tiny", seed=2)
