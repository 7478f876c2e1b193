"""The block-diffusion training objective: block-wise masking, the two-copy attention layout, loss.

Each sequence is fed twice side by side, noisy then clean, at the same positions. A noisy block
attends to itself (both ways) and to the clean copies of earlier blocks, exactly what it sees when
decoding; clean tokens attend block-causally to clean tokens only. No logit shift: each masked
position predicts its own token.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb


def mask_cap(step: int, warmup_steps: int, start: float = 0.3) -> float:
    """The warm-up: the largest masking ratio allowed at `step`, growing linearly to 1."""
    if warmup_steps <= 0 or step >= warmup_steps:
        return 1.0
    return start + (1.0 - start) * step / warmup_steps


def sample_block_mask(
    length: int, batch: int, block_length: int, cap: float, generator: torch.Generator
) -> torch.Tensor:
    """Which positions to mask ([batch, length] bool): one rate per block, drawn in [0, cap] and
    clipped to [1/B, 1], so every block has at least one masked token."""
    blocks = math.ceil(length / block_length)
    rate = torch.rand(batch, blocks, generator=generator) * cap
    rate = rate.clamp(1.0 / block_length, 1.0)
    count = (rate * block_length).round().clamp(min=1)  # [batch, blocks]
    # A random order inside each block; mask the first `count` of that order.
    order = torch.rand(batch, blocks, block_length, generator=generator).argsort(dim=-1)
    rank = order.argsort(dim=-1)
    masked = rank < count[..., None]
    return masked.reshape(batch, blocks * block_length)[:, :length]


def two_copy_attention(length: int, block_length: int) -> torch.Tensor:
    """[2L, 2L] bool: rows/columns 0..L-1 are the noisy copy, L..2L-1 the clean one."""
    block = torch.arange(length) // block_length
    same = block[:, None] == block[None, :]
    earlier = block[None, :] < block[:, None]
    causal = block[None, :] <= block[:, None]
    no = torch.zeros(length, length, dtype=torch.bool)
    top = torch.cat([same, earlier], dim=1)  # noisy queries
    bottom = torch.cat([no, causal], dim=1)  # clean queries
    return torch.cat([top, bottom], dim=0)


def hidden_states(model: torch.nn.Module, ids: torch.Tensor, attention: torch.Tensor):
    """The decoder's final hidden states ([batch, 2L, hidden]) for the two-copy input `ids`
    ([batch, 2L]) under `attention` ([2L, 2L] bool), with gradients."""
    inner = model.model
    config = model.config
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    batch, n = ids.shape
    length = n // 2
    positions = torch.arange(length, device=ids.device).repeat(2)[None].expand(batch, -1)
    hidden = inner.embed_tokens(ids)
    cos, sin = inner.rotary_emb(hidden, position_ids=positions)
    mask = attention.to(ids.device)[None, None]
    for layer in inner.layers:
        attn = layer.self_attn
        x = layer.input_layernorm(hidden)
        q = attn.q_proj(x).view(batch, n, heads, head_dim).transpose(1, 2)
        k = attn.k_proj(x).view(batch, n, kv_heads, head_dim).transpose(1, 2)
        v = attn.v_proj(x).view(batch, n, kv_heads, head_dim).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, enable_gqa=heads != kv_heads
        )  # [batch, heads, 2L, head_dim]
        hidden = hidden + attn.o_proj(out.transpose(1, 2).reshape(batch, n, heads * head_dim))
        hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
    return inner.norm(hidden)


def diffusion_loss(
    model: torch.nn.Module,
    tokens: torch.Tensor,
    masked: torch.Tensor,
    mask_id: int,
    attention: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy over masked positions, and how many of them the argmax got right.

    `tokens` [batch, L] are clean ids, `masked` [batch, L] which of them the noisy copy hides.
    """
    noisy = torch.where(masked, torch.full_like(tokens, mask_id), tokens)
    hidden = hidden_states(model, torch.cat([noisy, tokens], dim=1), attention)
    length = tokens.shape[1]
    chosen = hidden[:, :length][masked]  # [masked tokens, hidden]
    logits = model.lm_head(chosen).float()
    targets = tokens[masked]
    loss = F.cross_entropy(logits, targets)
    correct = (logits.argmax(dim=-1) == targets).sum()
    return loss, correct
