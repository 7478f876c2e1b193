"""Test launcher: the real `diffcoder-lsp` whose backend answers from a script, not a model.

It plugs a `ScriptedBackend` (the checkpoint's real tokenizer, no weights) in through the documented
hook (`main(argv, engine_loader=...)`), so the server reaches it through the same
`GenerationBackend` interface as the local engine. `--step-delay S` makes each decoding step take
S seconds, `--load-delay S` the model load.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

from diffcoder.lsp_server.__main__ import main
from diffcoder.lsp_server.settings import Settings
from diffcoder.model.types import StepInfo
from diffcoder.testing.scripted_backend import ScriptedBackend, ScriptedCall

# An infill that runs on into the next function, as models do: `inline.stopAt` "block" (the
# default) keeps INFILL_KEPT at a cursor inside a function body; "none" keeps it all.
INFILL_ANSWER = "return 42\ndef after():\n    pass\n"
INFILL_KEPT = "return 42\n"
STEPS = 20
BUG = "RAISE_A_BUG"  # a region holding this makes the backend raise: a bug, for the log tests
BREAK = "BREAK_THE_SYNTAX"  # a region holding this gets an answer with a syntax error


def scripted_edit(draft: str) -> str:
    """The region's new text: `a + b` becomes `b + a`; else a comment goes on top."""
    if BUG in draft:
        raise RuntimeError("a scripted bug")
    if BREAK in draft:  # (written as a comment, so the document itself parses)
        return draft.replace(f"# {BREAK}", "", 1) + "    def (:\n"
    if "a + b" in draft:
        return draft.replace("a + b", "b + a", 1)
    return "# edited by the script\n" + draft


def scripted_answer(call: ScriptedCall) -> str:
    """Edits send their region as the draft; infill sends none."""
    return scripted_edit(call.draft_text) if call.draft_text else INFILL_ANSWER


class AnswerPacedBackend(ScriptedBackend):
    """Its steps commit the answer's tokens evenly, as a model that stops at the end of its
    answer does (the plain scripted backend counts up to the whole budget): what the edit
    progress percentage follows."""

    def generate(self, prompt_ids, config, *, draft_ids=None, on_step=None, cancel=None):
        if on_step is None:
            return super().generate(prompt_ids, config, draft_ids=draft_ids, cancel=cancel)
        draft_text = self.tokenizer.decode(draft_ids) if draft_ids else None
        answer = scripted_answer(ScriptedCall(list(prompt_ids), config, draft_ids, draft_text))
        length = len(self.tokenizer.encode(answer, add_special_tokens=False))
        steps = max(1, min(self.steps, config.max_new_tokens))

        def paced(info: StepInfo) -> None:
            on_step(replace(info, committed=length * (info.step + 1) // steps))

        return super().generate(
            prompt_ids, config, draft_ids=draft_ids, on_step=paced, cancel=cancel
        )


def scripted_loader(step_delay: float, load_delay: float):
    def load(path: str, settings: Settings) -> ScriptedBackend:
        time.sleep(load_delay)  # a big checkpoint
        return AnswerPacedBackend.from_checkpoint(
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
