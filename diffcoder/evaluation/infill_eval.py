"""`diffcoder eval infill`: HumanEval-infilling through the FIM prompt, judged by hidden tests.

Runs `prefix + generated middle + suffix + test + check(entry_point)` in the sandbox.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TextIO

from diffcoder.evaluation.datasets import InfillProblem
from diffcoder.evaluation.metrics import spread
from diffcoder.evaluation.sandbox import (
    DEFAULT_WORKERS,
    ExecResult,
    SandboxLimits,
    run_program,
    run_programs,
)
from diffcoder.model.backend import GenerationBackend
from diffcoder.model.types import DEFAULT_THRESHOLD

# The answer budget per problem (`--max-new-tokens`): HumanEval-infilling middles are short.
INFILL_MAX_NEW_TOKENS = 128


def generate_middle(
    backend: GenerationBackend,
    problem: InfillProblem,
    *,
    max_new_tokens: int,
    threshold: float | None,
) -> tuple[str, dict[str, Any]]:
    """The model's middle for one problem, and its decoding figures: the same FIM path and
    trimming as the editor's inline completion (`run_infill`), so what is scored is what a user
    would be offered."""
    from diffcoder.editing.infill_pipeline import run_infill

    start = time.perf_counter()
    result = run_infill(
        backend,
        problem.prefix + problem.suffix,
        len(problem.prefix),
        max_new_tokens=max_new_tokens,
        threshold=threshold,
    )
    latency = round(time.perf_counter() - start, 4)
    return result.text, {**result.generation.stats(), "latency_seconds": latency}


def evaluate_infill(
    backend: GenerationBackend,
    problems: Sequence[InfillProblem],
    *,
    limits: SandboxLimits,
    max_new_tokens: int = INFILL_MAX_NEW_TOKENS,
    threshold: float | None = DEFAULT_THRESHOLD,
    workers: int = DEFAULT_WORKERS,
    log: TextIO | None = sys.stderr,
) -> list[dict[str, Any]]:
    """One greedy sample per problem; tests run in the pool while the next middle decodes."""
    pending: list[tuple[InfillProblem, str, dict[str, Any], Future[ExecResult]]] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for index, problem in enumerate(problems, 1):
            middle, figures = generate_middle(
                backend, problem, max_new_tokens=max_new_tokens, threshold=threshold
            )
            future = pool.submit(run_program, problem.program(middle), limits)
            pending.append((problem, middle, figures, future))
            if log is not None and (index % 25 == 0 or index == len(problems)):
                print(f"[{index}/{len(problems)}] infilled", file=log)
        records = []
        for problem, middle, figures, future in pending:
            run = future.result()
            records.append(
                {
                    "id": problem.id,
                    "passed": run.passed,
                    "timed_out": run.timed_out,
                    "exact_match": middle.strip() == problem.middle.strip(),
                    **figures,
                    "middle": middle,
                }
            )
        return records


def summarize_infill(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    total = len(records)
    return {
        "total": total,
        "pass_at_1": round(sum(r["passed"] for r in records) / total, 4) if total else 0.0,
        "exact_match": round(sum(r["exact_match"] for r in records) / total, 4) if total else 0.0,
        "timed_out": sum(r["timed_out"] for r in records),
        "latency_seconds": spread([r["latency_seconds"] for r in records]),
        "nfe": spread([r["nfe"] for r in records]),
        "tokens_per_forward": spread([r["tokens_per_forward"] for r in records]),
    }


def check_infill_references(
    problems: Sequence[InfillProblem], limits: SandboxLimits, *, workers: int = DEFAULT_WORKERS
) -> dict[str, Any]:
    """Gold middles must pass; an empty middle must not (else the row tests nothing)."""
    gold = run_programs([p.program(p.middle) for p in problems], limits, workers=workers)
    empty = run_programs([p.program("") for p in problems], limits, workers=workers)
    return {
        "total": len(problems),
        "passed": sum(r.passed for r in gold),
        "before_passed": sum(r.passed for r in empty),
        "failed": [p.id for p, r in zip(problems, gold, strict=True) if not r.passed],
    }
