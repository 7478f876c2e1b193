"""The `diffcoder` command line: generate, edit, scope, eval, train, bench, make-tiny-checkpoint,
demo.

A thin caller of `diffcoder.model`; flags of `generate` are a contract other checks rely on.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from diffcoder.benchmarking.all import add_all_arguments, run_all_benchmarks
from diffcoder.benchmarking.demo_model import add_demo_model_arguments, run_demo_model_report
from diffcoder.benchmarking.lsp_latency import add_lsp_latency_arguments
from diffcoder.benchmarking.scope_eval import add_scope_eval_arguments, run_scope_eval
from diffcoder.cli.edit import add_edit_parser, run_edit_command
from diffcoder.cli.options import add_load_options, backend_from_args, threshold_value, token_ids
from diffcoder.cli.scope import add_scope_parser, run_scope
from diffcoder.evaluation.cli import add_eval_parser, run_eval
from diffcoder.training.cli import add_train_parser, run_train


def add_decode_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--block-length", type=int, default=4)
    parser.add_argument(
        "--steps-per-block", type=int, default=None, help="fixed mode: denoising steps per block"
    )
    parser.add_argument(
        "--threshold",
        type=threshold_value,
        default=0.95,
        help="confidence threshold (default 0.95), or 'none' for fixed steps per block",
    )
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--mode", default="fast", choices=["parity", "fast"])
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (temperature > 0)")
    parser.add_argument(
        "--stop", action="append", default=[], help="stop string (fast mode; repeatable)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diffcoder", description="Code edits with a local block-diffusion model."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="decode after a prompt with a checkpoint")
    gen.add_argument("--model", default=None, help="checkpoint directory (default: demo model)")
    source = gen.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompt")
    source.add_argument("--prompt-file", type=Path)
    gen.add_argument(
        "--chat", action="store_true", help="render the prompt as one user chat message"
    )
    gen.add_argument("--json", action="store_true", help="print one JSON object")
    draft = gen.add_mutually_exclusive_group()
    draft.add_argument(
        "--draft-file", type=Path, help="text the output probably repeats (fast mode)"
    )
    draft.add_argument("--draft-ids", type=token_ids, help="the draft as token ids: 1,2,3")
    add_load_options(gen)
    add_decode_options(gen)

    tiny = sub.add_parser("make-tiny-checkpoint", help="write a random-weight test checkpoint")
    tiny.add_argument("out", type=Path)
    tiny.add_argument("--vocab", default="small", choices=["small", "real"])
    tiny.add_argument("--hidden", type=int, default=64)
    tiny.add_argument("--layers", type=int, default=2)
    tiny.add_argument("--heads", type=int, default=4)
    tiny.add_argument("--kv-heads", type=int, default=2)
    tiny.add_argument("--intermediate", type=int, default=None)
    tiny.add_argument("--head-scale", type=float, default=1.0, help="sharpen the output head")
    tiny.add_argument("--shards", type=int, default=1)
    tiny.add_argument("--seed", type=int, default=0)

    bench = sub.add_parser("bench", help="benchmarks that print figures")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    decode = bench_sub.add_parser("decode", help="parity vs fast decoding, side by side")
    decode.add_argument("--out", type=Path, default=None, help="write table + plot here")
    decode.add_argument("--max-new-tokens", type=int, default=64)
    decode.add_argument("--repeats", type=int, default=2)
    decode.add_argument("--quick", action="store_true", help="tiny checkpoints only")

    draft = bench_sub.add_parser("draft", help="draft-accelerated vs plain decoding")
    draft.add_argument("--out", type=Path, default=None, help="write table + plot here")
    draft.add_argument("--max-new-tokens", type=int, default=256)
    draft.add_argument("--repeats", type=int, default=2)
    draft.add_argument("--quick", action="store_true", help="a tiny checkpoint instead of ~30M")

    add_scope_eval_arguments(bench_sub.add_parser("scope", help="EditEval scoping figures"))
    add_scope_parser(sub)
    add_edit_parser(sub)
    add_eval_parser(sub)
    add_train_parser(sub)

    add_lsp_latency_arguments(bench_sub.add_parser("lsp", help="language server request latency"))
    add_demo_model_arguments(
        bench_sub.add_parser("demo-model", help="the demo model's examples, good and bad")
    )
    add_all_arguments(bench_sub.add_parser("all", help="every benchmark, into docs/benchmarks.md"))
    demo = sub.add_parser("demo", help="the language server end to end (the demo model)")
    demo.add_argument("--model", default=None, help="checkpoint (default: the demo model)")
    demo.add_argument("--max-new-tokens", type=int, default=64)
    demo.add_argument("--file", type=Path, default=None, help="file to edit (examples/stats.py)")
    demo.add_argument("--pipeline", action="store_true", help="the in-process pipeline demo")
    return parser


def run_generate(args: argparse.Namespace) -> int:
    from diffcoder.cli.progress import StepPrinter
    from diffcoder.model.backend import encode_prompt
    from diffcoder.model.types import DecodeConfig

    config = DecodeConfig(
        max_new_tokens=args.max_new_tokens,
        block_length=args.block_length,
        steps_per_block=args.steps_per_block,
        threshold=args.threshold,
        temperature=args.temperature,
        mode=args.mode,
        stop_strings=tuple(args.stop),
        seed=args.seed,
    )
    engine = backend_from_args(args)
    prompt = args.prompt if args.prompt is not None else args.prompt_file.read_text("utf-8")
    prompt_ids = encode_prompt(engine.tokenizer, prompt, chat=args.chat)
    draft_ids = args.draft_ids
    if args.draft_file is not None:
        draft_ids = encode_prompt(engine.tokenizer, args.draft_file.read_text("utf-8"))
    with StepPrinter(sys.stderr, enabled=not args.json) as printer:
        result = engine.generate(prompt_ids, config, draft_ids=draft_ids, on_step=printer)
    if args.json:
        print(json.dumps(result_json(result, engine, config)))
    else:
        print(result.text)
        print(summary_line(result), file=sys.stderr)
    return 0


def result_json(result, backend, config) -> dict:
    info = backend.describe()
    return {
        "token_ids": result.token_ids,
        "text": result.text,
        **result.stats(),
        "mode": config.mode,
        "threshold": config.threshold,
        "device": info.device,
        "quant": info.quant,
        "dtype": info.dtype,
    }


def summary_line(result) -> str:
    return (
        f"[{result.finish_reason}] {len(result.token_ids)} tokens, {result.nfe} forwards "
        f"({result.tokens_per_forward:.2f} tokens/forward), prefill {result.prefill_seconds:.3f}s, "
        f"decode {result.decode_seconds:.3f}s"
    )


def run_make_tiny(args: argparse.Namespace) -> int:
    from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint

    out = make_tiny_checkpoint(
        args.out,
        vocab=args.vocab,
        hidden=args.hidden,
        layers=args.layers,
        heads=args.heads,
        kv_heads=args.kv_heads,
        intermediate=args.intermediate,
        seed=args.seed,
        head_scale=args.head_scale,
        shards=args.shards,
    )
    print(out)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "generate":
            return run_generate(args)
        if args.command == "make-tiny-checkpoint":
            return run_make_tiny(args)
        if args.command == "scope":
            return run_scope(args)
        if args.command == "edit":
            return run_edit_command(args)
        if args.command == "train":
            return run_train(args)
        if args.command == "eval":
            return run_eval(args)
        if args.command == "bench" and args.bench == "scope":
            return run_scope_eval(args)
        if args.command == "bench" and args.bench == "decode":
            from diffcoder.benchmarking.decode import run_decode_benchmark

            return run_decode_benchmark(args)
        if args.command == "bench" and args.bench == "draft":
            from diffcoder.benchmarking.draft import run_draft_benchmark

            return run_draft_benchmark(args)
        if args.command == "bench" and args.bench == "demo-model":
            return run_demo_model_report(args)
        if args.command == "bench" and args.bench == "all":
            return run_all_benchmarks(args)
        if args.command == "bench" and args.bench == "lsp":
            from diffcoder.benchmarking.lsp_latency import run_lsp_latency

            return run_lsp_latency(args)
        if args.command == "demo" and args.pipeline:
            from diffcoder.cli.pipeline_demo import run_demo

            return run_demo(args)
        if args.command == "demo":
            from diffcoder.cli.lsp_demo import run_lsp_demo

            return run_lsp_demo(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"diffcoder: error: {error}", file=sys.stderr)
        return 2
    raise AssertionError(f"unhandled command {args.command}")
