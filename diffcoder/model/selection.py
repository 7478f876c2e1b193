"""Per-step token choice and the "which positions to commit" rule of the denoising sampler.

Kept apart from the loop so both can be tested on their own with scripted logits.
"""

from __future__ import annotations

import torch

from diffcoder.model.types import DecodeConfig


def step_schedule(masked: int, steps: int) -> list[int]:
    """Fixed mode: spread `masked` commits over `steps` as evenly as possible, extras first."""
    base, extra = divmod(masked, steps)
    return [base + (1 if i < extra else 0) for i in range(steps)]


def commit_count(config: DecodeConfig, masked: int, step: int) -> int | None:
    """Fixed mode: how many positions step `step` (from 0) of a block commits when the block
    started with `masked` undecided positions. None in threshold mode."""
    if config.threshold is not None:
        return None
    return step_schedule(masked, config.fixed_steps)[step]


def choose_tokens(
    logits: torch.Tensor,
    temperature: float,
    generator: torch.Generator | None = None,
    banned: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick a token per row and its confidence (softmax probability under the raw logits).

    Temperature > 0 is Gumbel-max with the noise drawn in float64. `banned` ids are never
    picked, but the confidence stays the unmodified softmax so that a run that would not have
    picked them behaves exactly like one without the ban.
    """
    scores = logits.double()  # [rows, vocab]
    probs = torch.softmax(scores, dim=-1)
    if temperature > 0:
        uniform = torch.rand(
            scores.shape, dtype=torch.float64, device=scores.device, generator=generator
        )
        # log of exp(l) / (-log u)^T, the upstream form, without overflowing exp()
        scores = scores - temperature * torch.log(-torch.log(uniform))
    if banned is not None and banned.numel():
        scores = scores.index_fill(-1, banned, float("-inf"))
    tokens = scores.argmax(dim=-1)
    confidence = probs.gather(-1, tokens[:, None])[:, 0]
    return tokens, confidence


def select_commits(
    confidence: torch.Tensor,
    undecided: torch.Tensor,
    *,
    count: int | None = None,
    threshold: float | None = None,
) -> torch.Tensor:
    """Which undecided positions to commit this step (a bool mask; never empty).

    Fixed mode (`count`): the `count` most confident. Threshold mode: the most confident one
    unconditionally plus every other whose confidence reaches `threshold`.
    """
    assert bool(undecided.any()), "select_commits needs at least one undecided position"
    ranked = torch.where(undecided, confidence, torch.full_like(confidence, float("-inf")))
    chosen = torch.zeros_like(undecided)
    if threshold is None:
        assert count is not None and count >= 1
        chosen[torch.topk(ranked, min(count, int(undecided.sum()))).indices] = True
    else:
        chosen = undecided & (confidence >= threshold)
        chosen[ranked.argmax()] = True
    return chosen
