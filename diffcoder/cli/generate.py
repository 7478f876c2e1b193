"""`diffcoder generate`: decode after a prompt with a checkpoint, printing the text or one JSON
object. Its flags and JSON keys are a contract other checks rely on (README).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diffcoder.cli.options import (
    add_load_options,
    add_threshold_option,
    backend_from_args,
    token_ids,
)
from diffcoder.model.types import BLOCK_LENGTH, DEFAULT_THRESHOLD

if TYPE_CHECKING:
    from diffcoder.model.backend import GenerationBackend
    from diffcoder.model.types import DecodeConfig, GenerationResult


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("generate", help="decode after a prompt with a checkpoint")
    parser.add_argument("--model", default=None, help="checkpoint directory (default: demo model)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompt")
    source.add_argument("--prompt-file", type=Path)
    parser.add_argument(
        "--chat", action="store_true", help="render the prompt as one user chat message"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    draft = parser.add_mutually_exclusive_group()
    draft.add_argument(
        "--draft-file", type=Path, help="text the output probably repeats (fast mode)"
    )
    draft.add_argument("--draft-ids", type=token_ids, help="the draft as token ids: 1,2,3")
    add_load_options(parser)
    _add_decode_options(parser)
    parser.set_defaults(run=run_generate)


def _add_decode_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--block-length", type=int, default=BLOCK_LENGTH)
    parser.add_argument(
        "--steps-per-block", type=int, default=None, help="fixed mode: denoising steps per block"
    )
    add_threshold_option(
        parser,
        f"confidence threshold (default {DEFAULT_THRESHOLD}), or 'none' for fixed steps per block",
    )
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--mode", default="fast", choices=["parity", "fast"])
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (temperature > 0)")
    parser.add_argument(
        "--stop", action="append", default=[], help="stop string (fast mode; repeatable)"
    )


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
    backend = backend_from_args(args)
    prompt = args.prompt if args.prompt is not None else args.prompt_file.read_text("utf-8")
    prompt_ids = encode_prompt(backend.tokenizer, prompt, chat=args.chat)
    draft_ids = args.draft_ids
    if args.draft_file is not None:
        draft_ids = encode_prompt(backend.tokenizer, args.draft_file.read_text("utf-8"))
    with StepPrinter(sys.stderr, enabled=not args.json) as printer:
        result = backend.generate(prompt_ids, config, draft_ids=draft_ids, on_step=printer)
    if args.json:
        print(json.dumps(result_json(result, backend, config)))
    else:
        print(result.text)
        print(summary_line(result), file=sys.stderr)
    return 0


def result_json(
    result: GenerationResult, backend: GenerationBackend, config: DecodeConfig
) -> dict[str, Any]:
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


def summary_line(result: GenerationResult) -> str:
    return (
        f"[{result.finish_reason}] {len(result.token_ids)} tokens, {result.nfe} forwards "
        f"({result.tokens_per_forward:.2f} tokens/forward), prefill {result.prefill_seconds:.3f}s, "
        f"decode {result.decode_seconds:.3f}s"
    )
