"""`diffcoder eval edit --oracle`: the product's edit path with the gold-answer oracle as model.

`OracleEdits` is an `EditBackend`: for each problem it points the `OracleBackend` at the gold pair
and runs `run_edit` exactly as `DirectBackend` does (region choice, prompt, the oracle's decoding
over the real tokenizer, output extraction, re-indentation, syntax gate, diff). Each attempt says
whether the pipeline left the gold program; the summary lists every failure by its cause.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from diffcoder.editing.budgets import PromptTooLongError
from diffcoder.editing.edit_pipeline import SYNTAX_REFUSAL, EditRequest, run_edit
from diffcoder.editing.output import to_lf
from diffcoder.evaluation.attempts import EditAttempt, EditTarget
from diffcoder.evaluation.datasets import EditProblem
from diffcoder.evaluation.oracle import GOLD, SCOPE_MISS, OracleBackend

# Why an oracle problem failed (`oracle.failures_by_cause` in the summary). Only `scope_miss` is
# not a pipeline defect: the region chooser left part of the gold change out.
CAUSES = {
    "scope_miss": "the gold change lies (partly) outside the chosen region",
    "unlocated": "the oracle could not find the prompt's region in the program",
    "prompt_too_long": "the prompt and its answer do not fit the context budget",
    "answer_too_long": "the gold answer did not end within the answer's token allowance",
    "syntax_gate": "the syntax gate refused the gold code",
    "output_mismatch": "output handling did not leave the gold program",
    "timed_out": "the gold program ran past the timeout",
    "tests_failed": "the pipeline left the gold program, and its tests failed (flaky)",
}


def same_code(left: str, right: str) -> bool:
    """Equal up to line endings, trailing whitespace and blank lines at the end."""

    def lines(text: str) -> list[str]:
        rows = [line.rstrip() for line in to_lf(text).split("\n")]
        while rows and not rows[-1]:
            rows.pop()
        return rows

    return lines(left) == lines(right)


class OracleEdits:
    """The edit path with the oracle as model; `golds` maps (program, instruction) to the gold
    program (build it with `for_problems`)."""

    name = "oracle"

    def __init__(
        self, oracle: OracleBackend, golds: Mapping[tuple[str, str], str], *, path: str
    ) -> None:
        self.oracle, self.golds, self.path = oracle, dict(golds), path

    @classmethod
    def for_problems(
        cls, oracle: OracleBackend, problems: Sequence[EditProblem], *, path: str = "program.py"
    ) -> OracleEdits:
        golds: dict[tuple[str, str], str] = {}
        for problem in problems:
            key = (problem.before, problem.instruction)
            if golds.setdefault(key, problem.after) != problem.after:
                raise ValueError(
                    f"{problem.id}: another problem has the same program and instruction but a "
                    "different gold program; the oracle cannot tell them apart"
                )
        return cls(oracle, golds, path=path)

    def edit(
        self, text: str, instruction: str, target: EditTarget, *, temperature: float, seed: int
    ) -> EditAttempt:
        after = self.golds[(text, instruction)]
        self.oracle.gold = (text, after)
        request = EditRequest(
            text=text,
            instruction=instruction,
            language="python",
            path=self.path,
            selection=target.selection,
            cursor=target.cursor,
            temperature=temperature,
            seed=seed,
        )
        start = time.perf_counter()
        seen = len(self.oracle.verdicts)
        try:
            result = run_edit(self.oracle, request)
        except PromptTooLongError as error:
            return _refused(text, str(error), time.perf_counter() - start)
        verdict = self.oracle.verdicts[seen]
        oracle = verdict.as_record()
        if verdict.verdict != GOLD:
            oracle["cause"] = "scope_miss" if verdict.verdict == SCOPE_MISS else "unlocated"
        elif result.finish_reason == "length":
            oracle["cause"] = "answer_too_long"
        elif not result.proposed and (result.detail or "").startswith(SYNTAX_REFUSAL):
            oracle["cause"] = "syntax_gate"
        elif verdict.expected_text is None or not same_code(result.new_text, verdict.expected_text):
            oracle["cause"] = "output_mismatch"
        else:
            oracle["cause"] = None  # the pipeline left the gold program
        attempt = EditAttempt.from_stats(
            result.generation.stats(),
            new_text=result.new_text,
            rejected=None if result.proposed else result.detail,
            region_kind=result.region.kind,
            seconds=time.perf_counter() - start,
        )
        return _with_oracle(attempt, oracle)

    def close(self) -> None:
        pass


def _with_oracle(attempt: EditAttempt, oracle: dict[str, Any]) -> EditAttempt:
    return replace(attempt, oracle=oracle)


def _refused(text: str, detail: str, seconds: float) -> EditAttempt:
    attempt = EditAttempt(
        new_text=text,
        rejected=detail,
        finish_reason="none",
        region_kind="none",
        nfe=0,
        generated_tokens=0,
        tokens_per_forward=0.0,
        seconds=seconds,
    )
    return _with_oracle(attempt, {"verdict": None, "cause": "prompt_too_long"})


def failure_cause(record: Mapping[str, Any]) -> str | None:
    """Why an oracle record failed (None when it passed)."""
    if record["passed"]:
        return None
    cause = (record.get("oracle") or {}).get("cause")
    if cause:
        return str(cause)
    return "timed_out" if record["timed_out"] else "tests_failed"


def oracle_summary(records: Sequence[Mapping[str, Any]], left_out: set[str]) -> dict[str, Any]:
    """`scope_misses` and the `oracle` block of the summary: failures by cause (problem ids),
    what each cause means, and gold-faithful outputs."""
    by_cause: dict[str, list[str]] = {}
    scope_misses: set[str] = set()
    faithful = altered_but_passed = 0
    for record in records:
        if record["id"] in left_out or record.get("oracle") is None:
            continue
        cause = record["oracle"].get("cause")
        if cause == "scope_miss":
            scope_misses.add(record["id"])
        faithful += cause is None
        altered_but_passed += bool(cause) and bool(record["passed"])
        failed = failure_cause(record)
        if failed is not None:
            by_cause.setdefault(failed, []).append(record["id"])
    return {
        "scope_misses": len(scope_misses),
        "oracle": {
            "failures_by_cause": {cause: ids for cause, ids in sorted(by_cause.items())},
            "failures": sum(len(ids) for ids in by_cause.values()),
            "gold_outputs": faithful,
            "not_gold_but_passed": altered_but_passed,
            "causes": {cause: CAUSES[cause] for cause in sorted(by_cause) if cause in CAUSES},
        },
    }


def load_oracle(model: str | Path | None, tokenizer_file: str | Path | None) -> OracleBackend:
    """The oracle over a tokenizer: `tokenizer_file` (a tokenizer.json, shown with the model
    family's chat template), else the checkpoint directory `model`'s (no weights load), else the
    embedded demo model's."""
    import json
    import tempfile

    from diffcoder.model import checkpoint_layout as layout
    from diffcoder.model.checkpoint_files import load_tokenizer, special_ids
    from diffcoder.model.embedded import demo_model_path

    if tokenizer_file is not None:
        source = Path(tokenizer_file).expanduser()
        if not source.is_file():
            raise FileNotFoundError(f"--tokenizer {source} is not a file (give a tokenizer.json)")
        data = source.read_bytes()
        with tempfile.TemporaryDirectory(prefix="diffcoder-oracle-") as directory:
            layout.write_tokenizer_files(Path(directory), data)
            tokenizer = load_tokenizer(Path(directory))
        config = {"vocab_size": layout.padded_rows(layout.tokenizer_size(data))}
        return OracleBackend(tokenizer, special_ids(tokenizer, config), name=str(source))
    path = Path(model).expanduser() if model is not None else demo_model_path()
    config_file = path / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"--model {path} has no config.json (give a checkpoint directory)")
    tokenizer = load_tokenizer(path)
    config = json.loads(config_file.read_text(encoding="utf-8"))
    return OracleBackend(tokenizer, special_ids(tokenizer, config), name=str(path))
