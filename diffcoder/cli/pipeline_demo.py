"""`diffcoder demo --pipeline`: the edit pipeline in process, on the embedded demo model.

Runs an instruction edit through the whole pipeline (region, prompt, decoding with the region as
draft, output, syntax gate, diff) with and without the draft, then compares parity and fast
decoding.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from diffcoder.benchmarking.editor_sample import DEMO_MAX_NEW_TOKENS, INSTRUCTION
from diffcoder.editing.edit_pipeline import EditRequest, run_edit
from diffcoder.model.backend import encode_prompt
from diffcoder.model.embedded import model_or_demo
from diffcoder.model.engine import load_engine
from diffcoder.model.types import DecodeConfig, LoadOptions

SAMPLE = """import math


def mean(xs):
    return sum(xs) / len(xs)


def circle_area(r):
    return math.pi * r * r
"""


def run_pipeline_demo(
    *, model: str | Path | None = None, max_new_tokens: int = DEMO_MAX_NEW_TOKENS
) -> int:
    """The demo on `model` (else the embedded demo model), on the CPU."""
    path = model_or_demo(model, print)
    engine = load_engine(path, LoadOptions(device="cpu", quant="none"))
    print(f"Loaded: {engine.describe().summary}\n")

    request = EditRequest(
        text=SAMPLE, instruction=INSTRUCTION, path="stats.py", cursor=SAMPLE.index("return sum")
    )
    print(f"Instruction edit of stats.py, cursor in `mean`: {INSTRUCTION!r}")
    for use_draft in (True, False):
        result = run_edit(engine, replace(request, use_draft=use_draft))
        gen = result.generation
        print(
            f"  {'with' if use_draft else 'without'} the region as draft: "
            f"{len(gen.token_ids)} tokens, {gen.nfe} forwards, finish {gen.finish_reason}, "
            f"{gen.draft_accepted_tokens} draft tokens accepted"
        )
    print(f"  region: {result.region.kind} — {result.region.reason}")
    budget = result.prompt.max_new_tokens
    print(f"  prompt: {len(result.prompt.prompt_ids)} tokens; answer budget {budget} tokens")
    if not result.proposed:
        print(f"  not applied: {result.detail}")
    else:
        print("  new file:\n" + result.new_text)

    prompt_ids = encode_prompt(engine.tokenizer, INSTRUCTION, chat=True)
    print("\nParity (upstream) vs fast decoding of a chat prompt, one token per step:")
    for mode in ("parity", "fast"):
        config = DecodeConfig(max_new_tokens=max_new_tokens, threshold=None, mode=mode)
        result = engine.generate(prompt_ids, config)
        print(
            f"  [{mode}] {len(result.token_ids)} tokens in {result.nfe} forwards "
            f"({result.tokens_per_forward:.2f} tokens/forward, finish {result.finish_reason}, "
            f"{result.decode_seconds * 1000:.0f} ms); first ids {result.token_ids[:8]}"
        )
    print(
        "\nWith the real model:\n"
        "  diffcoder edit --model PATH --file stats.py --line 4 --instruction '…'"
    )
    return 0
