"""Small random Llama models and logit-biasing wrappers shared by the sampler tests."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from diffcoder.model.runtime import BlockDiffusionLM

VOCAB = 320
MASK, EOS, PAD = 5, 2, 1
SPECIAL_RANGE = range(128)  # the real layout: ids 0..127 are added special tokens


@dataclass(frozen=True)
class Specials:
    mask: int = MASK
    eos: int = EOS
    banned: frozenset[int] = frozenset(i for i in SPECIAL_RANGE if i != EOS)


def random_llama(seed: int = 0, head_scale: float = 1.0, vocab: int = VOCAB) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=64,
        intermediate_size=176,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        rope_theta=500000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=False,
        bos_token_id=0,
        eos_token_id=EOS,
        pad_token_id=PAD,
    )
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        model.lm_head.weight.mul_(head_scale)
    return model


def prompt_of(length: int, seed: int = 0) -> list[int]:
    """Random non-special token ids: a prompt for the random models."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(128, VOCAB, (length,), generator=g).tolist()


@dataclass
class LogitBias:
    """Adds fixed logit offsets: to some ids everywhere, and to one id at chosen positions."""

    everywhere: dict[int, float] = field(default_factory=dict)
    at_position: dict[int, tuple[int, float]] = field(default_factory=dict)

    def __call__(self, logits: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        logits = logits.clone()
        for token, value in self.everywhere.items():
            logits[:, token] += value
        for row, position in enumerate(positions.tolist()):
            if position in self.at_position:
                token, value = self.at_position[position]
                logits[row, token] += value
        return logits


def avoid_specials(**extra) -> LogitBias:
    """A bias that keeps a random model away from every special id except EOS."""
    return LogitBias(everywhere={i: -1e4 for i in SPECIAL_RANGE if i != EOS}, **extra)


class BiasedLM(BlockDiffusionLM):
    """The real runtime with a position-aware logit bias applied to what it returns; records the
    length of every segment fed, with or without logits."""

    def __init__(self, model, bias: LogitBias | None = None, block_length: int = 4) -> None:
        super().__init__(model, block_length)
        self.bias = bias
        self.forward_lengths: list[int] = []

    def forward(self, cache, ids, positions, *, commit=0, logits_rows=slice(None), mask=None):
        self.forward_lengths.append(int(ids.shape[0]))
        out = super().forward(
            cache, ids, positions, commit=commit, logits_rows=logits_rows, mask=mask
        )
        return out if self.bias is None else self.bias(out, positions[logits_rows])

    def extend(self, cache, ids, positions):
        self.forward_lengths.append(int(ids.shape[0]))
        super().extend(cache, ids, positions)
