"""`diffcoder eval edit|infill`: argument parsing and the run, for `diffcoder.cli` to wire in.

`add_eval_parser(subparsers)` adds the `eval` command; `run_eval(args)` runs it and returns the exit
status (2 with a message on stderr for bad input or an unavailable backend).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from diffcoder.cli.options import add_load_options, backend_from_args, threshold_value
from diffcoder.evaluation.datasets import (
    EDIT_FORMATS,
    INSTRUCTION_KINDS,
    load_edit_problems,
    load_infill_problems,
)
from diffcoder.evaluation.edit_eval import (
    BACKENDS,
    SCOPES,
    BackendUnavailable,
    EvalSettings,
    check_references,
    evaluate_edits,
    open_backend,
    summarize_edits,
)
from diffcoder.evaluation.infill_eval import (
    check_infill_references,
    evaluate_infill,
    summarize_infill,
)
from diffcoder.evaluation.report import write_report, write_results
from diffcoder.evaluation.sandbox import DEFAULT_TIMEOUT, SandboxLimits


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {value}")
    return number


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", type=Path, required=True, help="JSONL (or parquet) file")
    parser.add_argument("--model", help="checkpoint directory")
    parser.add_argument("--limit", type=_positive_int, help="only the first N problems")
    parser.add_argument(
        "--check-references",
        action="store_true",
        help="run the gold programs (must pass) and the unedited ones (must fail); no model",
    )
    parser.add_argument("--out", type=Path, help="per-sample results as JSONL")
    parser.add_argument("--report", type=Path, help="directory for report.md, plots, results")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds/program")
    parser.add_argument("--memory-mb", type=_positive_int, default=4096, help="per program")
    parser.add_argument("--workers", type=_positive_int, default=2, help="programs run at once")
    parser.add_argument(
        "--python", help="interpreter that runs the programs (default: the one running diffcoder)"
    )
    add_load_options(parser)


def add_eval_parser(subparsers: argparse._SubParsersAction) -> None:
    evaluation = subparsers.add_parser("eval", help="benchmarks judged by tests in a sandbox")
    kinds = evaluation.add_subparsers(dest="eval", required=True)

    edit = kinds.add_parser("edit", help="instruction edits (CanItEdit, EditEval)")
    _add_common(edit)
    edit.add_argument("--format", required=True, choices=EDIT_FORMATS)
    edit.add_argument("--instruction", default="descriptive", choices=INSTRUCTION_KINDS)
    edit.add_argument("--samples", type=_positive_int, default=1, help="samples per problem")
    edit.add_argument(
        "--temperature", type=float, default=None, help="default 0 (greedy) for 1 sample, else 0.2"
    )
    edit.add_argument("--scope", default="file", choices=SCOPES)
    edit.add_argument("--via", default="direct", choices=BACKENDS)

    infill = kinds.add_parser("infill", help="fill-in-the-middle (HumanEval-infilling)")
    _add_common(infill)
    infill.add_argument("--max-new-tokens", type=_positive_int, default=128)
    infill.add_argument("--threshold", type=threshold_value, default=0.95)

    masked = kinds.add_parser(
        "masked", help="masked-token accuracy on the held-out split of `diffcoder train`'s corpus"
    )
    masked.add_argument(
        "--model", type=Path, action="append", required=True, help="repeatable; same tokenizer"
    )
    masked.add_argument("--corpus", type=Path, default=None, help="default: the standard library")
    masked.add_argument("--rows", type=_positive_int, default=48, help="held-out rows")
    masked.add_argument("--length", type=_positive_int, default=320, help="tokens per row")
    masked.add_argument("--json", action="store_true", help="print one JSON object")


def _limits(args: argparse.Namespace) -> SandboxLimits:
    return SandboxLimits(timeout=args.timeout, memory_mb=args.memory_mb, python=args.python)


def _emit(args: argparse.Namespace, payload: dict[str, Any], human: list[str]) -> None:
    if args.json:
        print(json.dumps(payload, ensure_ascii=False))
    else:
        print("\n".join(human))


def _references_lines(result: dict[str, Any], gold: str, original: str) -> list[str]:
    return [
        f"{gold} passing: {result['passed']}/{result['total']} (all should pass)",
        f"{original} passing: {result['before_passed']}/{result['total']} (none should pass)",
    ]


def _model_name(args: argparse.Namespace) -> str:
    return args.model or "embedded demo model"


def _check_lsp_options(args: argparse.Namespace, temperature: float) -> None:
    """`--via lsp` runs what the server can: greedy decoding, with its --device and --quant."""
    from diffcoder.evaluation.lsp_backend import lsp_refusal

    refusal = lsp_refusal(args.samples, temperature)
    if refusal is not None:
        raise ValueError(refusal)
    given = {"--dtype": args.dtype, "--mask-id": args.mask_id, "--eos-id": args.eos_id}
    unsupported = [option for option, value in given.items() if value is not None]
    if unsupported:
        raise ValueError(
            f"--via lsp cannot pass {', '.join(unsupported)} to the server (it takes only "
            "--device and --quant); drop them or use --via direct"
        )


def _run_edit(args: argparse.Namespace) -> int:
    problems = load_edit_problems(
        args.dataset, args.format, instruction=args.instruction, limit=args.limit
    )
    limits = _limits(args)
    if args.check_references:
        result = check_references(problems, limits, workers=args.workers)
        _emit(args, result, _references_lines(result, "after", "before"))
        return 0
    temperature = args.temperature
    if temperature is None:
        temperature = 0.0 if args.samples == 1 else 0.2
    if args.via == "lsp":
        _check_lsp_options(args, temperature)
    settings = EvalSettings(
        samples=args.samples,
        temperature=temperature,
        scope=args.scope,
        limits=limits,
        workers=args.workers,
    )
    backend = open_backend(
        args.via,
        lambda: backend_from_args(args),  # no --model: the embedded demo model
        model=args.model,
        device=args.device,
        quant=args.quant,
    )
    try:
        records = evaluate_edits(backend, problems, settings)
    finally:
        backend.close()
    for record in records:
        record["via"] = args.via
    summary = summarize_edits(records, settings)
    described = {
        "dataset": str(args.dataset),
        "format": args.format,
        "model": _model_name(args),
        "via": args.via,
        "instruction": args.instruction,
    }
    _finish(args, "Edit evaluation", {**summary, **described}, records, described)
    return 0


def _run_infill(args: argparse.Namespace) -> int:
    problems = load_infill_problems(args.dataset, limit=args.limit)
    limits = _limits(args)
    if args.check_references:
        result = check_infill_references(problems, limits, workers=args.workers)
        _emit(args, result, _references_lines(result, "gold middles", "empty middles"))
        return 0
    engine = backend_from_args(args)
    records = evaluate_infill(
        engine,
        problems,
        limits=limits,
        max_new_tokens=args.max_new_tokens,
        threshold=args.threshold,
        workers=args.workers,
    )
    summary = summarize_infill(records)
    described = {"dataset": str(args.dataset), "model": _model_name(args)}
    _finish(args, "Infilling evaluation", {**summary, **described}, records, described)
    return 0


def _finish(
    args: argparse.Namespace,
    title: str,
    summary: dict[str, Any],
    records: list[dict[str, Any]],
    described: dict[str, Any],
) -> None:
    if args.out is not None:
        write_results(args.out, records)
    if args.report is not None:
        report = write_report(args.report, title, summary, records, described)
        print(f"report: {report}", file=sys.stderr)
    human = [f"pass@1 {summary['pass_at_1']:.3f} over {summary['total']} problems"]
    for key in ("pass_at_1_by_change_kind", "latency_seconds", "nfe", "tokens_per_forward"):
        if key in summary:
            human.append(f"{key}: {summary[key]}")
    _emit(args, summary, human)


def _run_masked(args: argparse.Namespace) -> int:
    from diffcoder.training.config import TrainConfig
    from diffcoder.training.trainer import heldout_accuracy

    config = TrainConfig(
        out=args.model[0], corpus_dir=args.corpus, heldout_rows=args.rows, length=args.length
    )
    results = heldout_accuracy(args.model, config)
    lines = [
        f"{path}: accuracy {r['accuracy']:.3f}, loss {r['loss']:.3f}" for path, r in results.items()
    ]
    _emit(args, results, lines)
    return 0


def run_eval(args: argparse.Namespace) -> int:
    try:
        if args.eval == "edit":
            return _run_edit(args)
        if args.eval == "infill":
            return _run_infill(args)
        if args.eval == "masked":
            return _run_masked(args)
    except (ValueError, FileNotFoundError, BackendUnavailable) as error:
        print(f"diffcoder eval: error: {error}", file=sys.stderr)
        return 2
    raise AssertionError(f"unhandled eval kind {args.eval}")
