"""Block-causal forwards over a transformers Llama model, with the project's one KV cache.

transformers builds and loads the weights (bitsandbytes layers included); this module runs them
with block-causal attention and a preallocated cache whose uncommitted tail is simply ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb


@dataclass
class KVCache:
    """Per-layer keys/values for committed tokens; slots past `length` are scratch space.

    Allocated once at its full size (`BlockDiffusionLM.new_cache`); it never grows."""

    keys: list[torch.Tensor]  # each [1, kv_heads, capacity, head_dim]
    values: list[torch.Tensor]
    length: int = 0

    @property
    def capacity(self) -> int:
        return self.keys[0].shape[2]


def block_causal_mask(
    query_positions: torch.Tensor, key_positions: torch.Tensor, block_length: int
) -> torch.Tensor:
    """True where a query may attend a key: the key's block is the query's block or earlier."""
    query_blocks = torch.div(query_positions, block_length, rounding_mode="floor")
    key_blocks = torch.div(key_positions, block_length, rounding_mode="floor")
    return key_blocks[None, :] <= query_blocks[:, None]  # [queries, keys]


class BlockDiffusionLM:
    """Runs a loaded `LlamaForCausalLM` block-causally against a `KVCache`.

    Invariant: the cache only ever holds tokens of blocks earlier than any block being fed, so
    every cached entry is visible to every new query and only the new segment needs a mask.
    """

    def __init__(self, model: torch.nn.Module, block_length: int = 4) -> None:
        self.model = model
        self.block_length = block_length
        config = model.config
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.num_heads
        embed = model.get_input_embeddings().weight
        self.device = embed.device
        self.dtype = embed.dtype

    def new_cache(self, capacity: int) -> KVCache:
        """A cache for up to `capacity` tokens: all a request ever feeds it, scratch included."""
        layers = self.model.config.num_hidden_layers
        shape = (1, self.num_kv_heads, max(capacity, self.block_length), self.head_dim)

        def alloc() -> torch.Tensor:
            return torch.empty(shape, dtype=self.dtype, device=self.device)

        return KVCache([alloc() for _ in range(layers)], [alloc() for _ in range(layers)])

    @torch.inference_mode()
    def forward(
        self,
        cache: KVCache,
        ids: torch.Tensor,
        positions: torch.Tensor,
        *,
        commit: int = 0,
        logits_rows: slice = slice(None),
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Feed `ids` at absolute `positions`; keep the KV of the first `commit` tokens.

        `mask` ([n, n] bool) overrides the block-causal layout inside the new segment. Returns
        float32 logits for `logits_rows` of the segment ([rows, vocab]).
        """
        hidden = self._layers(cache, ids, positions, commit, mask)
        return self.model.lm_head(self.model.model.norm(hidden[0, logits_rows])).float()

    @torch.inference_mode()
    def extend(self, cache: KVCache, ids: torch.Tensor, positions: torch.Tensor) -> None:
        """Feed `ids` and keep all of their KV, with no logits (the prefill, parity's commit
        forward): the final norm and the output head are skipped."""
        self._layers(cache, ids, positions, ids.shape[0], None)

    def _layers(self, cache, ids, positions, commit, mask) -> torch.Tensor:
        n = ids.shape[0]
        start = cache.length
        if start + n > cache.capacity:
            raise ValueError(
                f"a {n}-token segment after {start} cached tokens overflows the KV cache "
                f"({cache.capacity} slots); allocate the cache for the whole request"
            )
        if mask is None:
            mask = block_causal_mask(positions, positions, self.block_length)
        visible = torch.ones(n, start, dtype=torch.bool, device=self.device)
        attn_mask = torch.cat([visible, mask.to(self.device)], dim=1)[None, None]

        inner = self.model.model
        hidden = inner.embed_tokens(ids[None].to(self.device))
        cos, sin = inner.rotary_emb(hidden, position_ids=positions[None].to(self.device))
        for index, layer in enumerate(inner.layers):
            hidden = hidden + self._attention(
                layer, index, cache, layer.input_layernorm(hidden), cos, sin, attn_mask
            )
            hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
        cache.length = start + commit
        return hidden  # [1, n, hidden]

    def _attention(self, layer, index, cache, hidden, cos, sin, attn_mask) -> torch.Tensor:
        attn = layer.self_attn
        n = hidden.shape[1]
        # [1, heads, n, head_dim]
        q = attn.q_proj(hidden).view(1, n, self.num_heads, self.head_dim).transpose(1, 2)
        k = attn.k_proj(hidden).view(1, n, self.num_kv_heads, self.head_dim).transpose(1, 2)
        v = attn.v_proj(hidden).view(1, n, self.num_kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        start = cache.length
        cache.keys[index][:, :, start : start + n] = k
        cache.values[index][:, :, start : start + n] = v
        keys = cache.keys[index][:, :, : start + n]
        values = cache.values[index][:, :, : start + n]
        out = F.scaled_dot_product_attention(
            q.to(keys.dtype),
            keys,
            values,
            attn_mask=attn_mask,
            scale=getattr(attn, "scaling", self.head_dim**-0.5),
            enable_gqa=self.num_heads != self.num_kv_heads,
        )
        out = out.transpose(1, 2).reshape(1, n, self.num_heads * self.head_dim)
        return attn.o_proj(out.to(hidden.dtype))

    def prefill(self, cache: KVCache, ids: torch.Tensor, chunk: int = 1024) -> None:
        """Commit `ids` (starting at position `cache.length`) in block-aligned chunks."""
        chunk = max(self.block_length, chunk - chunk % self.block_length)
        for offset in range(0, ids.shape[0], chunk):
            part = ids[offset : offset + chunk]
            start = cache.length
            positions = torch.arange(start, start + part.shape[0], device=self.device)
            self.extend(cache, part, positions)
