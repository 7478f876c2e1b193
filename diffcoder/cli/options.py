"""Command-line options shared by the `diffcoder` sub-commands that load a checkpoint."""

from __future__ import annotations

import argparse
import sys

from diffcoder.model.backend import GenerationBackend
from diffcoder.model.embedded import model_or_demo
from diffcoder.model.types import LoadOptions


def threshold_value(value: str) -> float | None:
    if value.lower() in ("none", "off"):
        return None
    try:
        threshold = float(value)
    except ValueError:
        message = f"expected a number in (0, 1] or 'none', not {value!r}"
        raise argparse.ArgumentTypeError(message) from None
    if not 0.0 < threshold <= 1.0:
        raise argparse.ArgumentTypeError(f"threshold must be in (0, 1], not {threshold}")
    return threshold


def token_ids(value: str) -> list[int]:
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        message = f"expected comma-separated token ids, not {value!r}"
        raise argparse.ArgumentTypeError(message) from None


def add_load_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--quant", default="auto", choices=["auto", "none", "8bit", "4bit"])
    parser.add_argument(
        "--dtype", default=None, choices=["float32", "bfloat16", "float16"], help="compute dtype"
    )
    parser.add_argument("--mask-id", type=int, default=None, help="override the mask token id")
    parser.add_argument("--eos-id", type=int, default=None, help="override the EOS token id")


def backend_from_args(args: argparse.Namespace) -> GenerationBackend:
    """The checkpoint named by --model (else the embedded demo model) with the load options,
    reporting progress on stderr."""
    from diffcoder.model.engine import load_engine

    overrides = {k: v for k, v in (("mask", args.mask_id), ("eos", args.eos_id)) if v is not None}
    options = LoadOptions(
        device=args.device, quant=args.quant, dtype=args.dtype, special_overrides=overrides or None
    )
    model = model_or_demo(args.model, lambda note: print(note, file=sys.stderr))
    print(f"Loading {model} …", file=sys.stderr)
    backend = load_engine(model, options)
    print(backend.describe().summary, file=sys.stderr)
    return backend
