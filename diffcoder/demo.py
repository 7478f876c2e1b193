"""`diffcoder demo` (`make demo`): the main job end to end on an embedded default.

Until the project ships a trained default model, the demo builds a tiny random-weight checkpoint
in a temporary directory, loads it like a real one and decodes a chat prompt with it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from diffcoder.model.engine import DiffusionEngine
from diffcoder.model.sampler import DecodeConfig
from diffcoder.model.tiny_checkpoint import make_tiny_checkpoint

INSTRUCTION = "Handle the empty list:\n```python\ndef mean(xs):\n    return sum(xs) / len(xs)\n```"


def run_demo(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="diffcoder-demo-") as tmp:
        print("Building a tiny random-weight checkpoint (a stand-in for the real model) …")
        path = make_tiny_checkpoint(Path(tmp) / "tiny", seed=0)
        engine = DiffusionEngine.from_path(path, device="cpu", quant="none")
        print(f"Loaded: {engine.describe()}")
        prompt_ids = engine.encode(INSTRUCTION, chat=True)
        print(f"Prompt ({len(prompt_ids)} tokens) rendered with the checkpoint's chat template:")
        print(engine.decode(prompt_ids))
        for mode in ("parity", "fast"):
            config = DecodeConfig(max_new_tokens=args.max_new_tokens, threshold=None, mode=mode)
            result = engine.generate(prompt_ids, config)
            print(
                f"\n[{mode}] {len(result.token_ids)} tokens in {result.nfe} forwards "
                f"({result.tokens_per_forward:.2f} tokens/forward, finish: "
                f"{result.finish_reason}, {result.decode_seconds * 1000:.0f} ms)"
            )
            print(f"  ids:  {result.token_ids}")
            print(f"  text: {result.text!r}")
        print(
            "\nThe weights are random, so the text is noise: the demo shows the plumbing. "
            "Run a real checkpoint with:\n  diffcoder generate --model PATH --chat --prompt '…'",
            file=sys.stderr,
        )
    return 0
