"""Argument types and options shared by several `diffcoder` subcommands, and loading the backend
they name. Imports nothing heavy: every `--help` and argument error is answered without torch.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from diffcoder.model.backend import GenerationBackend
from diffcoder.model.types import DEFAULT_THRESHOLD, DTYPE_CHOICES, QUANT_CHOICES, LoadOptions


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
        ids = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        message = f"expected comma-separated token ids, not {value!r}"
        raise argparse.ArgumentTypeError(message) from None
    negative = [i for i in ids if i < 0]
    if negative:
        raise argparse.ArgumentTypeError(f"token ids are 0 or more, not {negative[0]}")
    return ids


def _whole_number_from(minimum: int, meaning: str):
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {value!r}") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"expected {meaning}, not {number}")
        return number

    return parse


positive_int = _whole_number_from(1, "a positive integer")
non_negative_int = _whole_number_from(0, "0 or more")


def _number_from(minimum: float, inclusive: bool, meaning: str):
    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, not {value!r}") from None
        low_ok = number >= minimum if inclusive else number > minimum
        if not (low_ok and number < float("inf")):
            raise argparse.ArgumentTypeError(f"expected {meaning}, not {value}")
        return number

    return parse


positive_float = _number_from(0.0, False, "a positive number")
non_negative_float = _number_from(0.0, True, "0 or more")


def add_threshold_option(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    parser.add_argument("--threshold", type=threshold_value, default=DEFAULT_THRESHOLD, help=help)


def add_load_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--quant", default="auto", choices=QUANT_CHOICES)
    parser.add_argument("--dtype", default=None, choices=DTYPE_CHOICES, help="compute dtype")
    parser.add_argument("--mask-id", type=int, default=None, help="override the mask token id")
    parser.add_argument("--eos-id", type=int, default=None, help="override the EOS token id")


def load_options(args: argparse.Namespace) -> LoadOptions:
    """The `LoadOptions` that `add_load_options`'s flags name."""
    overrides = {k: v for k, v in (("mask", args.mask_id), ("eos", args.eos_id)) if v is not None}
    return LoadOptions(
        device=args.device, quant=args.quant, dtype=args.dtype, special_overrides=overrides or None
    )


def backend_from_args(args: argparse.Namespace) -> GenerationBackend:
    """The checkpoint named by --model (else the embedded demo model) with the load options,
    reporting progress on stderr (transformers' progress bar only on a terminal)."""
    from diffcoder.model.embedded import model_or_demo
    from diffcoder.model.engine import load_engine

    model = model_or_demo(args.model, lambda note: print(note, file=sys.stderr))
    print(f"Loading {model} …", file=sys.stderr)
    options = dataclasses.replace(load_options(args), progress_bars=sys.stderr.isatty())
    backend = load_engine(model, options)
    print(backend.describe().summary, file=sys.stderr)
    return backend
