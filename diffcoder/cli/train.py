"""`diffcoder train`: its arguments, each defaulting to `TrainConfig`'s value, and the call into
the trainer.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

from diffcoder.cli.options import non_negative_int, positive_float, positive_int
from diffcoder.training.config import Mixture, TrainConfig

# TrainConfig's integer settings, each a `--kebab-case` flag with the same default.
INT_SETTINGS = (
    "steps", "batch", "length", "hidden", "layers", "heads", "kv_heads", "vocab_size",
    "lr_warmup_steps", "mask_warmup_steps", "seed", "max_files", "heldout_rows", "log_every",
    "save_every",
)  # fmt: skip
ZERO_ALLOWED = ("lr_warmup_steps", "mask_warmup_steps", "seed")


def register(subparsers: argparse._SubParsersAction) -> None:
    defaults = {f.name: f.default for f in fields(TrainConfig) if f.name != "mixture"}
    parser = subparsers.add_parser(
        "train",
        help="train a small block-diffusion code model (the embedded demo model's recipe)",
        description=(
            "Trains a Stable-DiffCoder-shaped model on the running interpreter's standard "
            "library (or --corpus DIR) and writes a checkpoint that --model accepts. The "
            "defaults are the settings of the embedded demo model."
        ),
    )
    parser.add_argument("--out", type=Path, required=True, help="checkpoint directory to write")
    parser.add_argument(
        "--untrained-out", type=Path, default=None, help="also save the untrained twin here"
    )
    parser.add_argument("--corpus", type=Path, default=None, help="train on the .py files here")
    parser.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="continue from this checkpoint (its tokenizer and sizes): a second stage",
    )
    for name in INT_SETTINGS:
        flag = "--" + name.replace("_", "-")
        kind = non_negative_int if name in ZERO_ALLOWED else positive_int
        parser.add_argument(
            flag, type=kind, default=defaults[name], help=f"default {defaults[name]}"
        )
    parser.add_argument("--learning-rate", type=positive_float, default=defaults["learning_rate"])
    parser.add_argument(
        "--stop-after",
        type=positive_int,
        default=None,
        help="stop after N steps while keeping the learning-rate schedule of --steps",
    )
    parser.add_argument(
        "--time-budget-s", type=positive_float, default=None, help="stop early after this"
    )
    parser.add_argument("--fim-share", type=float, default=Mixture().fim_share)
    parser.add_argument("--edit-share", type=float, default=Mixture().edit_share)
    parser.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    from diffcoder.cli.prechecks import check_output

    check_output(args.out, directory=True, flag="--out")
    if args.untrained_out is not None:
        check_output(args.untrained_out, directory=True, flag="--untrained-out")
    from diffcoder.training.trainer import train  # torch: after the checks

    config = TrainConfig(
        out=args.out,
        untrained_out=args.untrained_out,
        corpus_dir=args.corpus,
        init_from=args.init_from,
        mixture=Mixture(fim_share=args.fim_share, edit_share=args.edit_share),
        learning_rate=args.learning_rate,
        time_budget_s=args.time_budget_s,
        stop_after=args.stop_after,
        **{name: getattr(args, name) for name in INT_SETTINGS},
    )
    summary = train(config)
    print(json.dumps({k: summary[k] for k in ("steps_done", "train_seconds", "heldout")}))
    return 0
