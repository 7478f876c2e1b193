"""`--check-references`: every gold program must pass and every original must fail, run exactly
as the model's programs are. No model is needed.

A problem whose imports the interpreter lacks is an environment error and does not run. A gold
program that fails is run again (`RERUNS` times): passing on a rerun makes it `flaky`, not
`failed`; failing with a missing benchmark package makes it an environment error. An original
that passes is run again: failing on a rerun makes it `flaky` (its tests depend on timing or
load), passing every time puts it in `before_passed` (its tests cannot tell the edit from none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from diffcoder.evaluation.environment import env_summary, environment_errors, missing_at_run_time
from diffcoder.evaluation.sandbox import (
    DEFAULT_WORKERS,
    ExecResult,
    SandboxLimits,
    describe,
    run_programs,
    sandbox_kind,
)

RERUNS = 2  # extra runs of a gold program that failed or an original that passed


@dataclass(frozen=True)
class ReferencePair:
    id: str
    gold: str  # the program that must pass
    original: str  # the program that must fail
    sources: tuple[str, ...]  # the problem's own texts, whose imports must be available


def _rerun(programs: Sequence[str], limits: SandboxLimits, workers: int) -> list[list[ExecResult]]:
    runs = run_programs(list(programs) * RERUNS, limits, workers=workers)
    return [runs[i :: len(programs)] for i in range(len(programs))] if programs else []


def check_pairs(
    pairs: Sequence[ReferencePair],
    limits: SandboxLimits,
    *,
    workers: int = DEFAULT_WORKERS,
    labels: tuple[str, str] = ("after", "before"),
) -> dict[str, Any]:
    kind = sandbox_kind(limits)  # refuses before anything runs where nothing confines programs
    env = environment_errors({p.id: p.sources for p in pairs}, limits.python)
    runnable = [p for p in pairs if p.id not in env]
    first = run_programs(
        [p.gold for p in runnable] + [p.original for p in runnable], limits, workers=workers
    )
    gold, original = first[: len(runnable)], first[len(runnable) :]
    suspects: list[tuple[ReferencePair, ExecResult, str]] = []
    for pair, run in zip(runnable, gold, strict=True):
        module = None if run.passed else missing_at_run_time(run.stderr, limits.python)
        if module is not None:
            env[pair.id] = [module]
        elif not run.passed:
            suspects.append((pair, run, labels[0]))
    suspects += [
        (p, r, labels[1]) for p, r in zip(runnable, original, strict=True)
        if r.passed and p.id not in env
    ]  # fmt: skip
    reruns = _rerun(
        [p.gold if k == labels[0] else p.original for p, _, k in suspects], limits, workers
    )
    failed, flaky, before_passed = [], [], []
    for (pair, run, kind_of), again in zip(suspects, reruns, strict=True):
        outcomes = [run.passed] + [r.passed for r in again]
        if len(set(outcomes)) > 1:
            flaky.append(
                {
                    "id": pair.id,
                    "program": kind_of,
                    "passed_runs": sum(outcomes),
                    "runs": len(outcomes),
                }
            )
        elif kind_of == labels[0]:
            failed.append(
                {"id": pair.id, "timed_out": run.timed_out, "stderr_tail": run.stderr[-300:]}
            )
        else:
            before_passed.append(pair.id)
    return {
        "total": len(pairs),
        "passed": sum(r.passed for p, r in zip(runnable, gold, strict=True) if p.id not in env),
        "before_passed": len(before_passed),
        "failed": failed,
        "before_passed_ids": before_passed,
        "flaky": flaky,
        **env_summary(env),
        "sandbox": describe(kind),
    }


def references_lines(result: dict[str, Any], gold: str, original: str) -> list[str]:
    """The human-readable lines of a `--check-references` result."""
    flaky = ", ".join(f"{f['id']} ({f['program']})" for f in result["flaky"]) or "none"
    return [
        f"{gold} passing: {result['passed']}/{result['total']} (all should pass)",
        f"{original} passing: {result['before_passed']}/{result['total']} (none should pass)",
        f"flaky (outcome changed between runs): {flaky}",
        f"environment errors (left out): {result['env_errors']} "
        f"{result['env_errors_by_package'] or ''}".rstrip(),
        f"sandbox: {result['sandbox']}",
    ]


def references_status(result: dict[str, Any]) -> int:
    """The exit code of `--check-references` (README's table): 2 when packages are missing (the
    environment is incomplete), 1 when a reference fails, 0 when all pass (flaky ones are named)."""
    if result["env_errors"]:
        return 2
    return 1 if result["failed"] else 0
