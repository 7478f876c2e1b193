"""`diffcoder eval edit`: instruction edits through the editor's own pipeline, judged by tests.

Where each edit's target lies, the samples per problem, running the edited programs in the
sandbox, and pass@k; `backends` turns (program, instruction, target) into an edited program.
"""

from __future__ import annotations

import difflib
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, TextIO

from diffcoder.evaluation.attempts import EditAttempt, EditBackend, EditTarget
from diffcoder.evaluation.datasets import EditProblem, edit_program
from diffcoder.evaluation.environment import env_summary, environment_errors, missing_at_run_time
from diffcoder.evaluation.metrics import mean_pass_at_k, spread
from diffcoder.evaluation.oracle_eval import oracle_summary
from diffcoder.evaluation.references import ReferencePair, check_pairs
from diffcoder.evaluation.sandbox import DEFAULT_WORKERS, ExecResult, SandboxLimits, run_program

SCOPES = ("file", "cursor")


def first_changed_offset(before: str, after: str) -> int:
    """Offset of the first non-blank character on the first line of `before` that the gold edit
    changes (or inserts at); 0 when the programs are equal."""
    old = before.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, old, after.splitlines(keepends=True), autojunk=False)
    row = next((i1 for tag, i1, *_ in matcher.get_opcodes() if tag != "equal"), None)
    if row is None or not old:
        return 0
    row = min(row, len(old) - 1)
    line = old[row]
    indent = len(line) - len(line.lstrip(" \t"))
    return sum(len(text) for text in old[:row]) + min(indent, len(line.rstrip("\r\n")))


def edit_target(problem: EditProblem, scope: str) -> EditTarget:
    if scope == "file":
        return EditTarget(selection=(0, len(problem.before)), cursor=None)
    if scope == "cursor":
        return EditTarget(
            selection=None, cursor=first_changed_offset(problem.before, problem.after)
        )
    raise ValueError(f"--scope must be one of {', '.join(SCOPES)}, not {scope!r}")


@dataclass(frozen=True)
class EvalSettings:
    samples: int = 1
    temperature: float = 0.0
    scope: str = "file"
    limits: SandboxLimits = SandboxLimits()
    workers: int = DEFAULT_WORKERS

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"--samples must be at least 1, not {self.samples}")
        if self.temperature < 0:
            raise ValueError(f"--temperature must be >= 0, not {self.temperature}")
        if self.scope not in SCOPES:
            raise ValueError(f"--scope must be one of {', '.join(SCOPES)}, not {self.scope!r}")


def _record(
    problem: EditProblem, sample: int, attempt: EditAttempt, run: ExecResult, settings: EvalSettings
) -> dict[str, Any]:
    return {
        "id": problem.id,
        "sample": sample,
        "change_kind": problem.change_kind,
        "scope": settings.scope,
        "passed": run.passed,
        "timed_out": run.timed_out,
        "returncode": run.returncode,
        "stderr_tail": run.stderr[-400:],
        # a package the benchmark's environment has and the interpreter lacks: not the model's
        "env_error": None
        if run.passed
        else missing_at_run_time(run.stderr, settings.limits.python),
        **{
            k: v
            for k, v in asdict(attempt).items()
            if k not in ("new_text", "seconds") and not (k == "oracle" and v is None)
        },
        "tokens_per_forward": round(attempt.tokens_per_forward, 4),
        "forwards_per_token": round(attempt.forwards_per_token, 4),
        "draft_accepted_share": round(attempt.draft_accepted_share, 4),
        "model_seconds": round(attempt.model_seconds, 4),
        "latency_seconds": round(attempt.seconds, 4),
        "new_text": attempt.new_text,
    }


def evaluate_edits(
    backend: EditBackend,
    problems: Sequence[EditProblem],
    settings: EvalSettings,
    *,
    log: TextIO | None = sys.stderr,
) -> list[dict[str, Any]]:
    """One record per (problem, sample). Programs run in the sandbox pool while the model
    decodes the next sample, so the tests cost little extra wall time."""
    pending: list[tuple[EditProblem, int, EditAttempt, Future[ExecResult]]] = []
    with ThreadPoolExecutor(max_workers=max(1, settings.workers)) as pool:
        for index, problem in enumerate(problems, 1):
            target = edit_target(problem, settings.scope)
            for sample in range(settings.samples):
                attempt = backend.edit(
                    problem.before,
                    problem.instruction,
                    target,
                    temperature=settings.temperature,
                    seed=sample,
                )
                program = edit_program(attempt.new_text, problem.tests)
                future = pool.submit(run_program, program, settings.limits)
                pending.append((problem, sample, attempt, future))
            if log is not None:
                print(f"[{index}/{len(problems)}] {problem.id} edited", file=log)
        return [_record(p, s, o, f.result(), settings) for p, s, o, f in pending]


def split_by_environment(
    problems: Sequence[EditProblem], limits: SandboxLimits
) -> tuple[list[EditProblem], dict[str, list[str]]]:
    """The problems the interpreter can run, and the others with the modules they lack."""
    sources = {p.id: (p.before, p.after, p.tests) for p in problems}
    errors = environment_errors(sources, limits.python)
    return [p for p in problems if p.id not in errors], errors


def summarize_edits(
    records: Sequence[dict[str, Any]],
    settings: EvalSettings,
    env_errors: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """pass@k over the problems without an environment error (`env_errors`: left out before
    editing; a sample that failed for a missing package leaves its whole problem out)."""
    env = {key: list(modules) for key, modules in (env_errors or {}).items()}
    for record in records:
        if record.get("env_error"):
            env.setdefault(record["id"], []).append(record["env_error"])
    counts: dict[str, list[int]] = {}
    kinds: dict[str, str] = {}
    for record in records:
        if record["id"] in env:
            continue
        n_c = counts.setdefault(record["id"], [0, 0])
        n_c[0] += 1
        n_c[1] += bool(record["passed"])
        kinds[record["id"]] = record["change_kind"]
    by_kind: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for problem, (n, c) in counts.items():
        by_kind[kinds[problem]].append((n, c))
    all_counts = [(n, c) for n, c in counts.values()]
    ks = sorted({1, settings.samples})
    oracle = {}
    if any("oracle" in record for record in records):
        oracle = oracle_summary(records, set(env))
    return {
        "total": len(counts),
        "passed": sum(1 for _, c in all_counts if c),  # problems with a passing sample
        "samples": settings.samples,
        "temperature": settings.temperature,
        "scope": settings.scope,
        "pass_at_1": round(mean_pass_at_k(all_counts, 1), 4),
        "pass_at_k": {str(k): round(mean_pass_at_k(all_counts, k), 4) for k in ks},
        "pass_at_1_by_change_kind": {
            kind: round(mean_pass_at_k(pairs, 1), 4) for kind, pairs in sorted(by_kind.items())
        },
        "problems_by_change_kind": {kind: len(pairs) for kind, pairs in sorted(by_kind.items())},
        "rejected": sum(1 for r in records if r["rejected"]),
        "timed_out": sum(1 for r in records if r["timed_out"]),
        "latency_seconds": spread([r["latency_seconds"] for r in records]),
        "nfe": spread([r["nfe"] for r in records]),
        "tokens_per_forward": spread([r["tokens_per_forward"] for r in records]),
        "forwards_per_token": spread([r["forwards_per_token"] for r in records]),
        "draft_accepted_share": spread([r["draft_accepted_share"] for r in records]),
        **oracle,
        **env_summary({key: sorted(set(modules)) for key, modules in env.items()}),
    }


def check_references(
    problems: Sequence[EditProblem], limits: SandboxLimits, *, workers: int = DEFAULT_WORKERS
) -> dict[str, Any]:
    """Gold `after` programs must pass and `before` programs must fail, on the same path (see
    `references`)."""
    pairs = [
        ReferencePair(
            p.id,
            edit_program(p.after, p.tests),
            edit_program(p.before, p.tests),
            (p.before, p.after, p.tests),
        )
        for p in problems
    ]
    return check_pairs(pairs, limits, workers=workers)
