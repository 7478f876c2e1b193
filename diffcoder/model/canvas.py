"""One request's decoding state: the prompt and the masked positions after it, which are still
undecided, the block being decoded and the KV cache behind it. The sampler's denoising steps and
draft verification both advance it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from diffcoder.model.runtime import BlockDiffusionLM, KVCache
from diffcoder.model.types import DecodeConfig, StepInfo


@dataclass
class Canvas:
    tokens: torch.Tensor  # [end] the prompt, then the mask id wherever nothing is decided yet
    undecided: torch.Tensor  # [end] bool
    positions: torch.Tensor  # [end] absolute positions, sliced for every forward
    prompt_len: int
    block_length: int
    cache: KVCache
    block_start: int  # the block being decoded; blocks sit at multiples of block_length
    steps: int = 0  # forwards reported to the step callback
    nfe: int = 0  # forwards after the prefill
    # [end] the latest forward's choice at each position of a block it denoised (a guess of the
    # block's final tokens, verified before it is ever relied on); None until a forward sets it
    guesses: torch.Tensor | None = None

    @staticmethod
    def capacity_for(prompt_len: int, config: DecodeConfig, *, drafting: bool) -> int:
        """KV slots a request needs: the one place the cache is sized. Forwards stay inside the
        request's positions, except a draft verification, which also feeds masked copies of up
        to max_draft_window blocks."""
        scratch = config.max_draft_window * config.block_length if drafting else 0
        return max(prompt_len + config.max_new_tokens + scratch, config.block_length)

    @classmethod
    def create(
        cls,
        lm: BlockDiffusionLM,
        prompt_ids: list[int],
        config: DecodeConfig,
        mask_id: int,
        *,
        drafting: bool,
        cache: KVCache | None = None,
    ) -> Canvas:
        """The prompt and `max_new_tokens` masked positions, with an empty cache for all of it
        (`cache`: one the caller allocated, at least `capacity_for` slots, length 0)."""
        device, prompt_len, length = lm.device, len(prompt_ids), config.block_length
        end = prompt_len + config.max_new_tokens
        tokens = list(prompt_ids) + [mask_id] * config.max_new_tokens
        if cache is None:
            cache = lm.new_cache(cls.capacity_for(prompt_len, config, drafting=drafting))
        return cls(
            tokens=torch.tensor(tokens, device=device, dtype=torch.long),
            undecided=torch.arange(end, device=device) >= prompt_len,
            positions=torch.arange(end, device=device),
            prompt_len=prompt_len,
            block_length=length,
            cache=cache,
            block_start=prompt_len - prompt_len % length,
        )

    @property
    def end(self) -> int:
        return self.tokens.shape[0]

    @property
    def block_end(self) -> int:
        return min(self.block_start + self.block_length, self.end)

    @property
    def cached(self) -> int:
        """Positions before this one have their KV in the cache. In fast mode the decided block
        from here to `block_start` is committed by the next forward, fused with a step."""
        return self.cache.length

    @property
    def generated_before_block(self) -> int:
        return max(self.block_start, self.prompt_len) - self.prompt_len

    def block_is_open(self) -> bool:
        return bool(self.undecided[self.block_start : self.block_end].any())

    def decide(self, start: int, end: int, chosen: torch.Tensor, proposed: torch.Tensor) -> None:
        """Fix `proposed` tokens wherever `chosen` is set (both [end - start])."""
        self.tokens[start:end] = torch.where(chosen, proposed, self.tokens[start:end])
        self.undecided[start:end] &= ~chosen

    def guess(self, start: int, end: int, chosen: torch.Tensor) -> None:
        """Remember `chosen` ([end - start], a forward's choice per position) as the guess of
        the block's final tokens."""
        if self.guesses is None:
            self.guesses = self.tokens.clone()
        self.guesses[start:end] = chosen

    def guessed_block(self) -> torch.Tensor | None:
        """The current block with its undecided positions filled by the latest guess; None when
        no forward has denoised it yet."""
        start, end = self.block_start, self.block_end
        if self.guesses is None or not bool(self.undecided[start:end].any()):
            return None
        guessed = self.guesses[start:end]
        open_ = self.undecided[start:end]
        if bool((guessed[open_] == self.tokens[start:end][open_]).any()):
            return None  # a position no forward has chosen for (still the mask id)
        return torch.where(open_, guessed, self.tokens[start:end])

    def decided_prefix(self) -> list[int]:
        """The generated tokens up to the first undecided position."""
        open_positions = self.undecided[self.prompt_len :].nonzero()
        count = int(open_positions[0]) if open_positions.numel() else self.end - self.prompt_len
        return self.tokens[self.prompt_len : self.prompt_len + count].tolist()

    def progress(self) -> StepInfo:
        first_block = self.prompt_len - self.prompt_len % self.block_length
        return StepInfo(
            step=self.steps,
            block=(self.block_start - first_block) // self.block_length,
            committed=int((~self.undecided[self.prompt_len :]).sum()),
            max_new_tokens=self.end - self.prompt_len,
            nfe=self.nfe,
        )
