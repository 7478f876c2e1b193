"""An uncached reference decoder written straight from shared/docs/model-facts.md.

Every step recomputes the whole canvas with transformers' own forward and a block-causal 4-D
mask; NFE is counted as upstream counts it (denoising steps plus one commit per block).
"""

from __future__ import annotations

import torch


def block_causal_additive_mask(length: int, block: int, dtype=torch.float32) -> torch.Tensor:
    blocks = torch.arange(length) // block
    allowed = blocks[None, :] <= blocks[:, None]
    mask = torch.zeros(1, 1, length, length, dtype=dtype)
    return mask.masked_fill(~allowed, torch.finfo(dtype).min)


def full_logits(model, canvas: list[int], block: int, bias=None) -> torch.Tensor:
    ids = torch.tensor([canvas])
    with torch.no_grad():
        logits = (
            model(input_ids=ids, attention_mask=block_causal_additive_mask(len(canvas), block))
            .logits[0]
            .float()
        )
    return logits if bias is None else bias(logits, torch.arange(len(canvas)))


def reference_decode(
    model,
    prompt: list[int],
    *,
    gen_length: int,
    steps: int,
    threshold: float | None,
    mask_id: int,
    eos_id: int,
    block: int = 4,
    temperature: float = 0.0,
    seed: int = 0,
    bias=None,
) -> tuple[list[int], int]:
    """Returns (generated ids up to the first EOS, NFE)."""
    assert gen_length % block == 0
    per_block = steps // (gen_length // block)
    x = list(prompt) + [mask_id] * gen_length
    p, total = len(prompt), len(prompt) + gen_length
    generator = torch.Generator().manual_seed(seed)
    nfe = 0
    block_end = p
    for block_start in range(p - p % block, total, block):
        block_end = min(block_start + block, total)
        open_positions = [i for i in range(block_start, block_end) if i >= p]
        m = len(open_positions)
        counts = [m // per_block + (1 if i < m % per_block else 0) for i in range(per_block)]
        step = 0
        while open_positions:
            logits = full_logits(model, x, block, bias)[block_start:block_end].double()
            nfe += 1
            probs = torch.softmax(logits, dim=-1)
            if temperature > 0:
                noise = torch.rand(logits.shape, dtype=torch.float64, generator=generator)
                chosen_ids = (logits.exp() / (-torch.log(noise)) ** temperature).argmax(-1)
            else:
                chosen_ids = logits.argmax(-1)
            conf = {
                i: float(probs[i - block_start, chosen_ids[i - block_start]])
                for i in open_positions
            }
            ranked = sorted(open_positions, key=lambda i: -conf[i])
            if threshold is None:
                commit = ranked[: counts[step]]
            else:
                commit = [ranked[0]] + [i for i in ranked[1:] if conf[i] >= threshold]
            for i in commit:
                x[i] = int(chosen_ids[i - block_start])
                open_positions.remove(i)
            step += 1
        nfe += 1  # the separate commit forward
        if eos_id in x[p:block_end]:
            break
    out = x[p:block_end]
    return (out[: out.index(eos_id)] if eos_id in out else out), nfe
