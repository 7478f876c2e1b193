"""`diffcoder eval edit|infill|masked`: benchmarks judged by tests in a sandbox (or held-out
masked-token accuracy). Bad input or an unavailable backend exits 2 with a message on stderr.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from diffcoder.cli.options import (
    add_load_options,
    add_threshold_option,
    backend_from_args,
    non_negative_float,
    positive_float,
    positive_int,
)
from diffcoder.evaluation.attempts import BACKENDS, BackendUnavailable
from diffcoder.evaluation.confinement import SandboxUnavailable
from diffcoder.evaluation.datasets import EDIT_FORMATS, INSTRUCTION_KINDS
from diffcoder.evaluation.edit_eval import SCOPES
from diffcoder.evaluation.infill_eval import INFILL_MAX_NEW_TOKENS
from diffcoder.evaluation.sandbox import DEFAULT_WORKERS, SandboxLimits
from diffcoder.training.config import TrainConfig

Handler = Callable[[argparse.Namespace], int]


def _reporting_errors(handler: Handler) -> Handler:
    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        from diffcoder.cli.prechecks import check_output

        try:
            if getattr(args, "out", None) is not None:
                check_output(args.out, directory=False, flag="--out")
            if getattr(args, "report", None) is not None:
                check_output(args.report, directory=True, flag="--report")
            return handler(args)
        except (ValueError, FileNotFoundError, BackendUnavailable, SandboxUnavailable) as error:
            print(f"diffcoder eval: error: {error}", file=sys.stderr)
            return 2

    return run


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", type=Path, required=True, help="JSONL (or parquet) file")
    parser.add_argument("--model", help="checkpoint directory")
    parser.add_argument("--limit", type=positive_int, help="only the first N problems")
    parser.add_argument(
        "--check-references",
        action="store_true",
        help="run the gold programs (must pass) and the unedited ones (must fail); no model",
    )
    parser.add_argument("--out", type=Path, help="per-sample results as JSONL")
    parser.add_argument("--report", type=Path, help="directory for report.md, plots, results")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    defaults = SandboxLimits()
    parser.add_argument(
        "--timeout", type=positive_float, default=defaults.timeout, help="seconds/program"
    )
    parser.add_argument(
        "--memory-mb", type=positive_int, default=defaults.memory_mb, help="per program"
    )
    parser.add_argument(
        "--workers", type=positive_int, default=DEFAULT_WORKERS, help="programs run at once"
    )
    parser.add_argument(
        "--python", help="interpreter that runs the programs (default: the one running diffcoder)"
    )
    parser.add_argument(
        "--unconfined",
        action="store_true",
        help="run the programs even where no namespace or bubblewrap can confine them to "
        "their own directory (they could then read and write what your user can)",
    )
    add_load_options(parser)


def register(subparsers: argparse._SubParsersAction) -> None:
    evaluation = subparsers.add_parser("eval", help="benchmarks judged by tests in a sandbox")
    kinds = evaluation.add_subparsers(dest="eval", required=True)

    edit = kinds.add_parser("edit", help="instruction edits (CanItEdit, EditEval)")
    _add_common(edit)
    edit.add_argument("--format", required=True, choices=EDIT_FORMATS)
    edit.add_argument("--instruction", default="descriptive", choices=INSTRUCTION_KINDS)
    edit.add_argument("--samples", type=positive_int, default=1, help="samples per problem")
    edit.add_argument(
        "--temperature",
        type=non_negative_float,
        default=None,
        help="default 0 (greedy) for 1 sample, else 0.2",
    )
    edit.add_argument("--scope", default="file", choices=SCOPES)
    edit.add_argument("--via", default="direct", choices=BACKENDS)
    edit.add_argument(
        "--oracle",
        action="store_true",
        help="the model writes the gold code for the region it is shown: the pipeline's ceiling",
    )
    edit.add_argument(
        "--tokenizer", type=Path, help="--oracle: a tokenizer.json (default: --model's)"
    )
    edit.set_defaults(run=_reporting_errors(run_edit_eval))

    infill = kinds.add_parser("infill", help="fill-in-the-middle (HumanEval-infilling)")
    _add_common(infill)
    infill.add_argument("--max-new-tokens", type=positive_int, default=INFILL_MAX_NEW_TOKENS)
    add_threshold_option(infill)
    infill.set_defaults(run=_reporting_errors(run_infill_eval))

    masked = kinds.add_parser(
        "masked", help="masked-token accuracy on the held-out split of `diffcoder train`'s corpus"
    )
    masked.add_argument(
        "--model", type=Path, action="append", required=True, help="repeatable; same tokenizer"
    )
    masked.add_argument("--corpus", type=Path, default=None, help="default: the standard library")
    masked.add_argument(
        "--rows", type=positive_int, default=TrainConfig.heldout_rows, help="held-out rows"
    )
    masked.add_argument(
        "--length", type=positive_int, default=TrainConfig.length, help="tokens per row"
    )
    masked.add_argument("--json", action="store_true", help="print one JSON object")
    masked.set_defaults(run=_reporting_errors(run_masked_eval))


def _limits(args: argparse.Namespace) -> SandboxLimits:
    """The sandbox's limits; refuses (exit 2) before any model loads when nothing confines the
    programs here and --unconfined was not given."""
    from diffcoder.evaluation.sandbox import describe, sandbox_kind

    limits = SandboxLimits(
        timeout=args.timeout, memory_mb=args.memory_mb, python=args.python,
        unconfined=args.unconfined,
    )  # fmt: skip
    if sandbox_kind(limits) == "none":
        print(f"diffcoder eval: warning: --unconfined: {describe('none')}", file=sys.stderr)
    return limits


def _sandbox(limits: SandboxLimits) -> str:
    from diffcoder.evaluation.sandbox import describe, sandbox_kind

    return describe(sandbox_kind(limits))


def _report_env_errors(by_package: dict[str, list[str]], python: str | None) -> None:
    from diffcoder.evaluation.environment import install_hint

    if by_package:
        print(f"diffcoder eval: {install_hint(by_package, python)}", file=sys.stderr)


def _emit(args: argparse.Namespace, payload: dict[str, Any], human: list[str]) -> None:
    if args.json:
        print(json.dumps(payload, ensure_ascii=False))
    else:
        print("\n".join(human))


def _references_checked(
    args: argparse.Namespace, result: dict[str, Any], gold: str, original: str
) -> int:
    """Show a `--check-references` result and give its exit code."""
    from diffcoder.evaluation.references import references_lines, references_status

    _report_env_errors(result["env_errors_by_package"], args.python)
    _emit(args, result, references_lines(result, gold, original))
    return references_status(result)


def _model_name(args: argparse.Namespace) -> str:
    return args.model or "embedded demo model"


def _check_lsp_options(args: argparse.Namespace, temperature: float) -> None:
    """`--via lsp` runs what the server can: greedy decoding, with its --device and --quant."""
    from diffcoder.evaluation.backends import lsp_refusal

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


def _oracle(args: argparse.Namespace, problems: list) -> Any:
    """The gold-answer oracle's edit backend (the pipeline in this process, no weights)."""
    from diffcoder.evaluation.oracle_eval import OracleEdits, load_oracle

    if args.via != "direct":
        raise ValueError("--oracle runs the pipeline in this process; drop --via lsp")
    return OracleEdits.for_problems(load_oracle(args.model, args.tokenizer), problems)


def run_edit_eval(args: argparse.Namespace) -> int:
    from diffcoder.evaluation.backends import open_backend
    from diffcoder.evaluation.datasets import load_edit_problems
    from diffcoder.evaluation.edit_eval import (
        EvalSettings,
        check_references,
        evaluate_edits,
        split_by_environment,
        summarize_edits,
    )
    from diffcoder.evaluation.environment import env_summary

    if args.tokenizer is not None and not args.oracle:
        raise ValueError("--tokenizer is for --oracle (a model uses its own tokenizer)")
    problems = load_edit_problems(
        args.dataset, args.format, instruction=args.instruction, limit=args.limit
    )
    limits = _limits(args)
    if args.check_references:
        result = check_references(problems, limits, workers=args.workers)
        return _references_checked(args, result, "after", "before")
    problems, env_errors = split_by_environment(problems, limits)
    _report_env_errors(env_summary(env_errors)["env_errors_by_package"], args.python)
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
    if args.oracle:
        backend = _oracle(args, problems)
    else:
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
    summary = summarize_edits(records, settings, env_errors)
    described = {
        "dataset": str(args.dataset),
        "format": args.format,
        "model": f"oracle over {backend.oracle.name}" if args.oracle else _model_name(args),
        "via": args.via,
        "instruction": args.instruction,
        "sandbox": _sandbox(limits),
    }
    _finish(args, "Edit evaluation", {**summary, **described}, records, described)
    return 0


def run_infill_eval(args: argparse.Namespace) -> int:
    from diffcoder.evaluation.datasets import load_infill_problems
    from diffcoder.evaluation.environment import env_summary
    from diffcoder.evaluation.infill_eval import (
        check_infill_references,
        evaluate_infill,
        split_by_environment,
        summarize_infill,
    )

    problems = load_infill_problems(args.dataset, limit=args.limit)
    limits = _limits(args)
    if args.check_references:
        result = check_infill_references(problems, limits, workers=args.workers)
        return _references_checked(args, result, "gold middles", "empty middles")
    problems, env_errors = split_by_environment(problems, limits)
    _report_env_errors(env_summary(env_errors)["env_errors_by_package"], args.python)
    backend = backend_from_args(args)
    records = evaluate_infill(
        backend,
        problems,
        limits=limits,
        max_new_tokens=args.max_new_tokens,
        threshold=args.threshold,
        workers=args.workers,
    )
    summary = summarize_infill(records, env_errors)
    described = {
        "dataset": str(args.dataset),
        "model": _model_name(args),
        "sandbox": _sandbox(limits),
    }
    _finish(args, "Infilling evaluation", {**summary, **described}, records, described)
    return 0


def _finish(
    args: argparse.Namespace,
    title: str,
    summary: dict[str, Any],
    records: list[dict[str, Any]],
    described: dict[str, Any],
) -> None:
    from diffcoder.evaluation.report import write_report, write_results

    if args.out is not None:
        write_results(args.out, records)
    if args.report is not None:
        report = write_report(args.report, title, summary, records, described)
        print(f"report: {report}", file=sys.stderr)
    human = [f"pass@1 {summary['pass_at_1']:.3f} over {summary['total']} problems"]
    shown = ("pass_at_1_by_change_kind", "latency_seconds", "nfe", "tokens_per_forward")
    shown += ("forwards_per_token", "draft_accepted_share", "scope_misses")
    human += [f"{key}: {summary[key]}" for key in shown if key in summary]
    if "oracle" in summary:
        human.append(f"oracle failures by cause: {summary['oracle']['failures_by_cause']}")
    if summary.get("env_errors"):
        human.append(f"left out, missing packages: {summary['env_errors_by_package']}")
    _emit(args, summary, human)


def run_masked_eval(args: argparse.Namespace) -> int:
    from diffcoder.model.checkpoint_files import check_files
    from diffcoder.training.trainer import heldout_accuracy

    for model in args.model:
        check_files(model.expanduser())  # a path, never a name to look up online
    config = TrainConfig(
        out=args.model[0], corpus_dir=args.corpus, heldout_rows=args.rows, length=args.length
    )
    results = heldout_accuracy(args.model, config)
    lines = [
        f"{path}: accuracy {r['accuracy']:.3f}, loss {r['loss']:.3f}" for path, r in results.items()
    ]
    _emit(args, results, lines)
    return 0
