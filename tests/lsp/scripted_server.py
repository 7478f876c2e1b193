"""Test launcher: the real `diffcoder-lsp` whose engine answers from a script, not the model.

It plugs in through the documented hook (`main(argv, engine_loader=...)`); the tokenizer and
everything around decoding stay real. `--step-delay S` makes each decoding step take S seconds,
`--load-delay S` the model load.
"""

from __future__ import annotations

import sys
import time

from diffcoder.lsp_server.__main__ import main
from diffcoder.lsp_server.settings import Settings
from diffcoder.model.engine import DiffusionEngine
from diffcoder.model.loading import load_model
from diffcoder.model.types import DecodeConfig, GenerationResult, StepInfo

INFILL_ANSWER = "return 42\n"
STEPS = 20


def scripted_edit(draft: str) -> str:
    """The region's new text: `a + b` becomes `b + a`; else a comment goes on top."""
    if "a + b" in draft:
        return draft.replace("a + b", "b + a", 1)
    return "# edited by the script\n" + draft


class ScriptedEngine(DiffusionEngine):
    step_delay = 0.0

    def generate(
        self, prompt_ids, config: DecodeConfig, *, on_step=None, cancel=None, draft_ids=None
    ):
        answer = scripted_edit(self.decode(draft_ids)) if draft_ids else INFILL_ANSWER
        steps = max(1, min(STEPS, config.max_new_tokens))
        for step in range(steps):
            if cancel is not None and cancel.is_set():
                return GenerationResult([], "", "cancelled", step, len(prompt_ids), 0.0, 0.0)
            time.sleep(self.step_delay)
            if on_step is not None:
                committed = config.max_new_tokens * (step + 1) // steps
                on_step(StepInfo(step, step, committed, config.max_new_tokens, step + 1))
        ids = self.tokenizer.encode(answer, add_special_tokens=False)
        seconds = self.step_delay * steps
        return GenerationResult(ids, answer, "stop", steps, len(prompt_ids), 0.0, seconds)


LOAD_DELAY = [0.0]


def load_scripted(path: str, settings: Settings) -> DiffusionEngine:
    time.sleep(LOAD_DELAY[0])  # a big checkpoint
    return ScriptedEngine(load_model(path, device="cpu", quant="none"))


if __name__ == "__main__":
    argv = sys.argv[1:]
    for option in ("--step-delay", "--load-delay"):
        if option in argv:
            at = argv.index(option)
            value = float(argv[at + 1])
            del argv[at : at + 2]
            if option == "--step-delay":
                ScriptedEngine.step_delay = value
            else:
                LOAD_DELAY[0] = value
    raise SystemExit(main(argv, engine_loader=load_scripted))
