"""`diffcoder eval infill`: HumanEval-infilling through the FIM prompt, judged by hidden tests.

Runs `prefix + generated middle + suffix + test + check(entry_point)` in the sandbox.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TextIO

from diffcoder.evaluation.datasets import InfillProblem
from diffcoder.evaluation.environment import env_summary, environment_errors
from diffcoder.evaluation.metrics import spread
from diffcoder.evaluation.references import ReferencePair, check_pairs
from diffcoder.evaluation.sandbox import DEFAULT_WORKERS, ExecResult, SandboxLimits, run_program
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


def split_by_environment(
    problems: Sequence[InfillProblem], limits: SandboxLimits
) -> tuple[list[InfillProblem], dict[str, list[str]]]:
    """The problems the interpreter can run, and the others with the modules they lack."""
    errors = environment_errors({p.id: (p.program(p.middle),) for p in problems}, limits.python)
    return [p for p in problems if p.id not in errors], errors


def summarize_infill(
    records: Sequence[dict[str, Any]], env_errors: Mapping[str, Sequence[str]] | None = None
) -> dict[str, Any]:
    """Over the problems that ran; `env_errors` (left out before infilling) are reported."""
    total = len(records)
    return {
        "total": total,
        "pass_at_1": round(sum(r["passed"] for r in records) / total, 4) if total else 0.0,
        "exact_match": round(sum(r["exact_match"] for r in records) / total, 4) if total else 0.0,
        "timed_out": sum(r["timed_out"] for r in records),
        "latency_seconds": spread([r["latency_seconds"] for r in records]),
        "nfe": spread([r["nfe"] for r in records]),
        "tokens_per_forward": spread([r["tokens_per_forward"] for r in records]),
        "forwards_per_token": spread([r["forwards_per_token"] for r in records]),
        "draft_accepted_share": spread([r["draft_accepted_share"] for r in records]),
        **env_summary(env_errors or {}),
    }


def check_infill_references(
    problems: Sequence[InfillProblem], limits: SandboxLimits, *, workers: int = DEFAULT_WORKERS
) -> dict[str, Any]:
    """Gold middles must pass; an empty middle must not (else the row tests nothing). `failed`
    lists ids (see `references` for the rest)."""
    pairs = [
        ReferencePair(p.id, p.program(p.middle), p.program(""), (p.program(p.middle),))
        for p in problems
    ]
    result = check_pairs(pairs, limits, workers=workers, labels=("gold", "empty"))
    return {**result, "failed": [failure["id"] for failure in result["failed"]]}
