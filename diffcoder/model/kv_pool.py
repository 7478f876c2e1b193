"""Batched block-causal forwards: many requests' segments in one forward, each against its own
KV cache slot.

The pool holds per layer one tensor [slots, kv_heads, capacity, head_dim] (zeros, allocated once);
request i's cache is slot i. Its tokens are packed (the projections and the MLP run on every real
token once, no padding); only attention pads the rows to the longest segment, with a per-row mask:
the row's own cached prefix, its segment's block-causal (or verification) layout, nothing of
another row. Active slots are kept contiguous (a leaving request's slot is refilled by moving the
last one), so attention reads a view of the pool, never a copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

from diffcoder.model.runtime import BlockDiffusionLM, block_causal_mask
from diffcoder.model.steps import ForwardOp


@dataclass(eq=False)
class SlotCache:
    """One request's cache: slot `slot` of the pool. Like `KVCache`, `length` tokens are
    committed and everything past it is scratch the next forward overwrites."""

    slot: int
    capacity: int
    length: int = 0


class KVPool:
    """`slots` caches of `capacity` positions each, and the batched forward over them."""

    def __init__(self, lm: BlockDiffusionLM, slots: int, capacity: int) -> None:
        self.lm, self.slots, self.capacity = lm, slots, capacity
        layers = lm.model.config.num_hidden_layers
        shape = (slots, lm.num_kv_heads, capacity, lm.head_dim)

        def alloc() -> torch.Tensor:
            # zeros, not empty: masked keys still meet values in attention (0 weight x NaN = NaN)
            return torch.zeros(shape, dtype=lm.dtype, device=lm.device)

        self.keys = [alloc() for _ in range(layers)]
        self.values = [alloc() for _ in range(layers)]
        self.active: list[SlotCache] = []

    @staticmethod
    def bytes_per_token(lm: BlockDiffusionLM) -> int:
        layers = lm.model.config.num_hidden_layers
        element = torch.empty((), dtype=lm.dtype).element_size()
        return 2 * layers * lm.num_kv_heads * lm.head_dim * element

    @property
    def free(self) -> int:
        return self.slots - len(self.active)

    def acquire(self) -> SlotCache:
        if not self.free:
            raise RuntimeError("no free KV slot")
        cache = SlotCache(slot=len(self.active), capacity=self.capacity)
        self.active.append(cache)
        return cache

    def release(self, cache: SlotCache) -> None:
        """Free `cache`'s slot; the last active slot moves into it (its committed KV copied)."""
        index = cache.slot
        assert self.active[index] is cache
        last = self.active.pop()
        if last is not cache:
            for tensors in (self.keys, self.values):
                for layer in tensors:
                    layer[index, :, : last.length] = layer[last.slot, :, : last.length]
            last.slot = index
            self.active[index] = last

    @torch.inference_mode()
    def forward(self, rows: list[tuple[SlotCache, ForwardOp]]) -> list[torch.Tensor | None]:
        """Run every row's operation in one forward; each row's result is what
        `BlockDiffusionLM.forward` (or `extend` when `logits_rows` is None) returns for it."""
        lm, device = self.lm, self.lm.device
        for cache, op in rows:
            if cache.length + op.length > cache.capacity:
                raise ValueError(
                    f"a {op.length}-token segment after {cache.length} cached tokens overflows "
                    f"the KV slot ({cache.capacity} positions)"
                )
        lengths = [op.length for _, op in rows]
        starts = torch.tensor([cache.length for cache, _ in rows], device=device)
        slots = [cache.slot for cache, _ in rows]
        batch, width = len(rows), max(lengths)
        row_of = torch.cat([torch.full((n,), r, device=device) for r, n in enumerate(lengths)])
        col_of = torch.cat([torch.arange(n, device=device) for n in lengths])
        positions = torch.cat([op.positions.to(device) for _, op in rows])
        ids = torch.cat([op.ids.to(device) for _, op in rows])
        key_len = max(cache.length + op.length for cache, op in rows)
        attn_mask = self._mask(rows, starts, width, key_len)
        write_slots = torch.tensor(slots, device=device)[row_of]
        write_at = starts[row_of] + col_of
        contiguous = slots == list(range(batch))
        slot_index = None if contiguous else torch.tensor(slots, device=device)

        inner = lm.model.model
        hidden = inner.embed_tokens(ids[None])
        cos, sin = inner.rotary_emb(hidden, position_ids=positions[None])
        for index, layer in enumerate(inner.layers):
            attn = layer.self_attn
            x = layer.input_layernorm(hidden)
            total = x.shape[1]
            q = attn.q_proj(x).view(1, total, lm.num_heads, lm.head_dim).transpose(1, 2)
            k = attn.k_proj(x).view(1, total, lm.num_kv_heads, lm.head_dim).transpose(1, 2)
            v = attn.v_proj(x).view(1, total, lm.num_kv_heads, lm.head_dim).transpose(1, 2)
            q, k = apply_rotary_pos_emb(q, k, cos, sin)
            pool_k, pool_v = self.keys[index], self.values[index]
            pool_k[write_slots, :, write_at] = k[0].transpose(0, 1).to(pool_k.dtype)
            pool_v[write_slots, :, write_at] = v[0].transpose(0, 1).to(pool_v.dtype)
            if slot_index is None:
                keys, values = pool_k[:batch, :, :key_len], pool_v[:batch, :, :key_len]
            else:
                keys = pool_k[slot_index, :, :key_len]
                values = pool_v[slot_index, :, :key_len]
            padded = q.new_zeros(batch, width, lm.num_heads, lm.head_dim)
            padded[row_of, col_of] = q[0].transpose(0, 1)
            out = F.scaled_dot_product_attention(
                padded.transpose(1, 2).to(keys.dtype),
                keys,
                values,
                attn_mask=attn_mask,
                scale=getattr(attn, "scaling", lm.head_dim**-0.5),
                enable_gqa=lm.num_heads != lm.num_kv_heads,
            )
            out = out.transpose(1, 2)[row_of, col_of].reshape(1, total, -1)
            hidden = hidden + attn.o_proj(out.to(hidden.dtype))
            hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
        for cache, op in rows:
            cache.length += op.commit
        return self._logits(rows, hidden[0])

    def _mask(self, rows, starts: torch.Tensor, width: int, key_len: int) -> torch.Tensor:
        """[batch, 1, width, key_len]: the row's cached prefix, its segment's layout placed at
        its own offset, and every key for padding queries (their output is dropped; a query
        that sees nothing would be NaN)."""
        device, batch = self.lm.device, len(rows)
        segment = torch.zeros(batch, width, width, dtype=torch.bool, device=device)
        lengths = torch.tensor([op.length for _, op in rows], device=device)
        for r, (_, op) in enumerate(rows):
            n = op.length
            layout = op.mask
            if layout is None:
                layout = block_causal_mask(op.positions, op.positions, self.lm.block_length)
            segment[r, :n, :n] = layout.to(device)
        keys = torch.arange(key_len, device=device)[None, None, :]
        relative = keys - starts[:, None, None]  # [batch, 1, key_len]
        inside = (relative >= 0) & (relative < lengths[:, None, None])
        placed = segment.gather(2, relative.clamp(0, width - 1).expand(batch, width, key_len))
        queries = torch.arange(width, device=device)[None, :, None]
        padding = queries >= lengths[:, None, None]
        mask = (relative < 0) | (inside & placed) | padding
        return mask[:, None]

    def _logits(self, rows, hidden: torch.Tensor) -> list[torch.Tensor | None]:
        """float32 logits for each row's `logits_rows` (None for rows without), one head call."""
        picks, sizes, offset = [], [], 0
        for _, op in rows:
            if op.logits_rows is not None:
                picked = torch.arange(offset, offset + op.length)[op.logits_rows]
                picks.append(picked)
                sizes.append(int(picked.shape[0]))
            offset += op.length
        if not picks:
            return [None] * len(rows)
        index = torch.cat(picks).to(hidden.device)
        model = self.lm.model
        logits = model.lm_head(model.model.norm(hidden[index])).float()
        parts = iter(logits.split(sizes))
        return [None if op.logits_rows is None else next(parts) for _, op in rows]
