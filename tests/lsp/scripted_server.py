"""Test launcher: the real `diffcoder-lsp` whose backend answers from a script, not a model.

It plugs a `ScriptedBackend` (the checkpoint's real tokenizer, no weights) in through the documented
hook (`main(argv, engine_loader=...)`), so the server reaches it through the same
`GenerationBackend` interface as the local engine. `--step-delay S` makes each decoding step take
S seconds, `--load-delay S` the model load.
"""

from __future__ import annotations

import sys
import time

from diffcoder.lsp_server.__main__ import main
from diffcoder.lsp_server.settings import Settings
from diffcoder.testing.scripted_backend import ScriptedBackend, ScriptedCall

INFILL_ANSWER = "return 42\n"
STEPS = 20
BUG = "RAISE_A_BUG"  # a region holding this makes the backend raise: a bug, for the log tests


def scripted_edit(draft: str) -> str:
    """The region's new text: `a + b` becomes `b + a`; else a comment goes on top."""
    if BUG in draft:
        raise RuntimeError("a scripted bug")
    if "a + b" in draft:
        return draft.replace("a + b", "b + a", 1)
    return "# edited by the script\n" + draft


def scripted_answer(call: ScriptedCall) -> str:
    """Edits send their region as the draft; infill sends none."""
    return scripted_edit(call.draft_text) if call.draft_text else INFILL_ANSWER


def scripted_loader(step_delay: float, load_delay: float):
    def load(path: str, settings: Settings) -> ScriptedBackend:
        time.sleep(load_delay)  # a big checkpoint
        return ScriptedBackend.from_checkpoint(
            path, scripted_answer, steps=STEPS, step_delay=step_delay
        )

    return load


def pop_option(argv: list[str], option: str) -> float:
    if option not in argv:
        return 0.0
    at = argv.index(option)
    value = float(argv[at + 1])
    del argv[at : at + 2]
    return value


if __name__ == "__main__":
    argv = sys.argv[1:]
    step_delay = pop_option(argv, "--step-delay")
    load_delay = pop_option(argv, "--load-delay")
    raise SystemExit(main(argv, engine_loader=scripted_loader(step_delay, load_delay)))
