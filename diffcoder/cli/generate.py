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
    positive_int,
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
    source.add_argument(
        "--prompts-jsonl",
        type=Path,
        help="many requests, one JSON object a line (prompt or prompt_ids, optional "
        "max_new_tokens, draft_ids, stop); needs --json",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=1,
        help="--prompts-jsonl: decode up to N requests in shared forwards (1: one after another)",
    )
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
    parser.add_argument("--max-new-tokens", type=positive_int, default=128)
    parser.add_argument("--block-length", type=positive_int, default=BLOCK_LENGTH)
    parser.add_argument(
        "--steps-per-block",
        type=positive_int,
        default=None,
        help="fixed mode: denoising steps per block",
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


def _read(path: Path, flag: str) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as error:
        raise ValueError(f"cannot read {flag} {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{flag} {path} is not UTF-8; convert it to UTF-8") from None


def _check_draft_ids(ids: list[int], vocabulary: int) -> None:
    unknown = [i for i in ids if i >= vocabulary]
    if unknown:
        raise ValueError(
            f"--draft-ids {unknown[0]} is not a token of this model's tokenizer (ids 0 to "
            f"{vocabulary - 1})"
        )


def run_generate(args: argparse.Namespace) -> int:
    """0 decoded (whatever the finish reason but cancelled), 1 cancelled (Ctrl-C), 2 bad input;
    everything that needs no model is checked before it loads."""
    from diffcoder.cli.interrupt import cancel_on_interrupt
    from diffcoder.cli.prechecks import checkpoint_tokenizer
    from diffcoder.cli.progress import StepPrinter
    from diffcoder.model.backend import encode_prompt
    from diffcoder.model.embedded import model_or_demo
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
    if args.prompts_jsonl is not None:
        from diffcoder.cli.generate_jsonl import run_jsonl

        if args.draft_file is not None or args.draft_ids:
            raise ValueError("with --prompts-jsonl, give each request's draft as its draft_ids")
        return run_jsonl(args, config, load=backend_from_args, to_json=result_json)
    if args.batch_size != 1:
        raise ValueError("--batch-size batches the requests of --prompts-jsonl; add that file")
    prompt = args.prompt if args.prompt is not None else _read(args.prompt_file, "--prompt-file")
    if not prompt and not args.chat:
        raise ValueError("the prompt is empty; give some text (or --chat, which adds a template)")
    draft = None if args.draft_file is None else _read(args.draft_file, "--draft-file")
    if args.draft_ids:
        args.model = model_or_demo(args.model, lambda line: print(line, file=sys.stderr))
        _check_draft_ids(args.draft_ids, len(checkpoint_tokenizer(args.model)))
    backend = backend_from_args(args)
    prompt_ids = encode_prompt(backend.tokenizer, prompt, chat=args.chat)
    draft_ids = args.draft_ids
    if draft is not None:
        draft_ids = encode_prompt(backend.tokenizer, draft)
    with StepPrinter(sys.stderr, enabled=not args.json) as printer, cancel_on_interrupt() as cancel:
        result = backend.generate(
            prompt_ids, config, draft_ids=draft_ids, on_step=printer, cancel=cancel
        )
    if args.json:
        print(json.dumps(result_json(result, backend, config)))
    else:
        print(result.text)
        print(summary_line(result), file=sys.stderr)
    if result.finish_reason == "cancelled":
        print("diffcoder generate: cancelled; the text above is what was decoded", file=sys.stderr)
        return 1
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
