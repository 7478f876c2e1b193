"""An oracle block-diffusion model for measuring decoding: it always predicts a known answer, with
a confidence profile that decides how many denoising steps each block takes.

`OracleLM` stands in for `BlockDiffusionLM` under the real sampler and the real draft path: its
`forward` returns logits whose argmax at every generated position is the expected answer's token
there (EOS after it). What varies is the confidence (the chosen token's softmax probability),
computed from the position and from what that query sees of its own block, so the model is a
fixed function of its visible input, as a real one is:

- `certain`: every token above any threshold;
- `realistic`: tokens that the draft has at the aligned place (a token diff of answer and draft)
  are confident at once; new tokens only once some generated position of their block is decided,
  so a block with new code takes two steps or more;
- `noisy`: `realistic` where, drawn per position from a seed, one copied token in ten is not
  confident at first, one new token in six is, and one new token in eight needs two decided
  neighbours.

Given the copied flags (`expect(..., copied=...)`), predictions also depend on the left context,
as a real model's do: a new token is predicted only by a query that sees the expected answer in
every generated position of the earlier blocks it sees (no mask, no old code there). Otherwise it
predicts a wrong token, unsure. Copied tokens are predicted whatever comes before them (a model
carries on the old code after a hunk it has not seen). So speculation only gains what a real
model could: new code cannot be guessed before the code before it is known.

It measures the decoding machinery (forwards, draft acceptance), never a model's quality.
"""

from __future__ import annotations

import difflib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from diffcoder.benchmarking.edit_settings import PROFILES
from diffcoder.model.backend import BackendInfo, PromptTokenizer
from diffcoder.model.runtime import BlockDiffusionLM, KVCache, block_causal_mask
from diffcoder.model.sampler import generate
from diffcoder.model.types import (
    CancelFlag,
    DecodeConfig,
    GenerationResult,
    SpecialIds,
    StepInfo,
)

SURE, UNSURE = 0.99, 0.6  # confidences above / below any usual threshold (0.95 by default)


def copied_flags(answer: list[int], draft: list[int]) -> list[bool]:
    """For each answer token: does the draft have it at the aligned place (a token-level diff)?"""
    flags = [False] * len(answer)
    matcher = difflib.SequenceMatcher(None, answer, draft, autojunk=False)
    for block in matcher.get_matching_blocks():
        for i in range(block.a, block.a + block.size):
            flags[i] = True
    return flags


@dataclass(frozen=True)
class Expectation:
    """What the oracle answers after a prompt of `prompt_len` tokens, and per answer token how
    many decided generated positions of its block it needs to see before it is confident."""

    prompt_len: int
    answer: list[int]  # the expected tokens, EOS included
    needs: list[int]
    copied: list[bool] | None = None  # None: predictions ignore the left context


def needed_neighbours(profile: str, copied: list[bool], seed: int) -> list[int]:
    """Per answer token, how many decided positions of its block make it confident."""
    if profile == "certain":
        return [0] * len(copied)
    if profile == "realistic":
        return [0 if c else 1 for c in copied]
    if profile == "noisy":
        rng = random.Random(seed)
        needs = []
        for c in copied:
            u = rng.random()
            if c:
                needs.append(1 if u < 0.1 else 0)
            else:
                needs.append(0 if u < 1 / 6 else 2 if u > 7 / 8 else 1)
        return needs
    raise ValueError(f"profile must be one of {', '.join(PROFILES)}, not {profile!r}")


class OracleLM(BlockDiffusionLM):
    """Logits that put the expected answer first; a `BlockDiffusionLM` without weights.

    Call `expect` before each request. The KV cache keeps only its length (the sampler's and
    the draft path's bookkeeping), with the real runtime's overflow check.
    """

    def __init__(self, vocab_size: int, mask_id: int, eos: int, block_length: int = 4) -> None:
        self.block_length = block_length
        self.vocab_size, self.mask_id, self.eos = vocab_size, mask_id, eos
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        self.expectation: Expectation | None = None
        self.forwards = 0  # every call with logits

    def expect(
        self,
        prompt_len: int,
        answer: list[int],
        needs: list[int],
        copied: list[bool] | None = None,
    ) -> None:
        if len(needs) != len(answer) or (copied is not None and len(copied) != len(answer)):
            raise ValueError("one confidence need (and copied flag) per answer token")
        flags = None if copied is None else list(copied)
        self.expectation = Expectation(prompt_len, list(answer), list(needs), flags)

    def new_cache(self, capacity: int) -> KVCache:
        slots = torch.empty(1, 1, max(capacity, self.block_length), 0)
        return KVCache([slots], [slots])

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
        expected = self.expectation
        if expected is None:
            raise RuntimeError("OracleLM.expect(...) was not called for this request")
        self._advance(cache, ids.shape[0], commit)
        self.forwards += 1
        if mask is None:
            mask = block_causal_mask(positions, positions, self.block_length)
        blocks = torch.div(positions, self.block_length, rounding_mode="floor")
        # per query: the decided generated positions of its own block that it sees
        decided = (ids != self.mask_id) & (positions >= expected.prompt_len)
        same_block = blocks[:, None] == blocks[None, :]
        seen = (mask.to(torch.bool) & same_block & decided[None, :]).sum(dim=1)
        misled = self._misled(ids, positions, blocks, mask.to(torch.bool))

        rows = range(ids.shape[0])[logits_rows]
        logits = torch.full((len(rows), self.vocab_size), -1.0e4)
        for out, row in enumerate(rows):
            index = int(positions[row]) - expected.prompt_len
            if index < 0:  # a prompt token in the first block: decided, never chosen
                token, need = int(ids[row]), 0
            elif index < len(expected.answer):
                token, need = expected.answer[index], expected.needs[index]
            else:
                token, need = self.eos, 0
            if bool(misled[row]) and self._is_new(index):
                # other code: three wrong tokens, unsure (so a banned one never lets the answer in)
                for shift, share in ((1, 0.5), (2, 0.3), (3, 0.2)):
                    logits[out, (token + shift) % self.vocab_size] = math.log(share)
                continue
            runner_up = token + 1 if token + 1 < self.vocab_size else token - 1
            # unsure tokens rank left to right, so the step's one forced commit is the leftmost
            offset = int(positions[row]) % self.block_length
            confidence = SURE if int(seen[row]) >= need else UNSURE - 0.01 * offset
            logits[out, token] = math.log(confidence)
            logits[out, runner_up] = math.log(1.0 - confidence)
        return logits

    def _is_new(self, index: int) -> bool:
        copied = self.expectation.copied if self.expectation else None
        return copied is not None and 0 <= index < len(copied) and not copied[index]

    def _misled(
        self, ids: torch.Tensor, positions: torch.Tensor, blocks: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Per query: does it see, in an earlier block, a generated position that does not hold
        the expected answer (a mask, or other code)? The cache holds decided tokens only,
        which are the answer, so only the fed segment can mislead."""
        expected = self.expectation
        assert expected is not None
        if expected.copied is None:
            return torch.zeros(ids.shape[0], dtype=torch.bool)
        answer = torch.tensor(expected.answer + [self.eos], dtype=torch.long)
        index = (positions - expected.prompt_len).clamp(0, len(expected.answer))
        wrong = (positions >= expected.prompt_len) & (ids != answer[index])
        earlier = blocks[None, :] < blocks[:, None]
        return (mask & earlier & wrong[None, :]).any(dim=1)

    def extend(self, cache: KVCache, ids: torch.Tensor, positions: torch.Tensor) -> None:
        self._advance(cache, ids.shape[0], ids.shape[0])

    def _advance(self, cache: KVCache, fed: int, commit: int) -> None:
        if cache.length + fed > cache.capacity:
            raise ValueError(
                f"a {fed}-token segment after {cache.length} cached tokens overflows the KV "
                f"cache ({cache.capacity} slots)"
            )
        cache.length += commit


class DenseIds:
    """A bijection between the token ids one request uses (plus every special id) and 0..n-1,
    in the same order. The sampler's decisions compare ids, test membership in the banned set
    and decode text, so they do not change under it; the oracle's softmax then spans n rows
    instead of the tokenizer's 155k, which is what keeps the benchmark minutes, not hours."""

    def __init__(self, used: list[int], special: SpecialIds) -> None:
        keep = {special.mask, special.eos, special.pad, *special.banned}
        for extra in (special.bos, special.fim_prefix, special.fim_suffix, special.fim_middle):
            if extra is not None:
                keep.add(extra)
        self.real = sorted(keep | set(used))
        self.dense = {token: index for index, token in enumerate(self.real)}
        self.special = SpecialIds(
            mask=self.dense[special.mask],
            eos=self.dense[special.eos],
            pad=self.dense[special.pad],
            bos=self.to_dense_one(special.bos),
            fim_prefix=self.to_dense_one(special.fim_prefix),
            fim_suffix=self.to_dense_one(special.fim_suffix),
            fim_middle=self.to_dense_one(special.fim_middle),
            banned=frozenset(self.dense[t] for t in special.banned),
        )

    @property
    def size(self) -> int:
        return len(self.real)

    def to_dense_one(self, token: int | None) -> int | None:
        return None if token is None else self.dense[token]

    def to_dense(self, ids: list[int]) -> list[int]:
        return [self.dense[t] for t in ids]

    def to_real(self, ids: list[int]) -> list[int]:
        return [self.real[t] for t in ids]


class OracleDecoder:
    """A `GenerationBackend` decoding on an `OracleLM` with the real sampler and draft path.

    `expect` sets the answer of the next requests (real ids). With `dense=True` (the default)
    each request runs in the ids of `DenseIds`; `dense=False` spans the tokenizer's whole
    output layer (`rows`), the slow reference the tests compare it with.
    """

    def __init__(
        self, tokenizer: PromptTokenizer, special: SpecialIds, rows: int, *, dense: bool = True
    ) -> None:
        self._tokenizer, self._special, self.rows, self.dense = tokenizer, special, rows, dense
        self.lm: OracleLM | None = None
        self.ids: DenseIds | None = None

    def expect(
        self,
        prompt: list[int],
        draft: list[int],
        answer: list[int],
        needs: list[int],
        copied: list[bool] | None = None,
    ) -> None:
        """The next requests' answer; with `copied`, new tokens need the right left context."""
        self.ids = DenseIds(prompt + draft + answer, self._special) if self.dense else None
        special = self.ids.special if self.ids else self._special
        self.lm = OracleLM(self.ids.size if self.ids else self.rows, special.mask, special.eos)
        self.lm.expect(len(prompt), self._in(answer), needs, copied)

    def _in(self, ids: list[int]) -> list[int]:
        return self.ids.to_dense(ids) if self.ids else list(ids)

    def _out(self, ids: list[int]) -> list[int]:
        return self.ids.to_real(ids) if self.ids else list(ids)

    @property
    def tokenizer(self) -> PromptTokenizer:
        return self._tokenizer

    @property
    def special(self) -> SpecialIds:
        return self._special

    @property
    def concurrency(self) -> int:
        return 1

    def describe(self) -> BackendInfo:
        return BackendInfo(
            summary="oracle model (predicts a known answer; measures decoding, not quality)",
            model="oracle",
            device="cpu",
            quant="none",
            dtype="float32",
        )

    def decode(self, token_ids: list[int]) -> str:
        return self._tokenizer.decode(
            self._out(token_ids), skip_special_tokens=False, clean_up_tokenization_spaces=False
        )

    def generate(
        self,
        prompt_ids: list[int],
        config: DecodeConfig,
        *,
        draft_ids: list[int] | None = None,
        on_step: Callable[[StepInfo], None] | None = None,
        cancel: CancelFlag | None = None,
    ) -> GenerationResult:
        if self.lm is None:
            raise RuntimeError("OracleDecoder.expect(...) was not called")
        result = generate(
            self.lm,
            self._in(prompt_ids),
            config,
            self.ids.special if self.ids else self._special,
            decode=self.decode,
            on_step=on_step,
            cancel=cancel,
            draft=None if draft_ids is None else self._in(draft_ids),
        )
        return replace(result, token_ids=self._out(result.token_ids))
