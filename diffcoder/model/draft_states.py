"""Next-state verification: when a verified block's first step commits only part of it, check
in the same forward what its second step would do, so the draft still counts where that stays
exact (as Spiffy and FreeDave verify draft states).

For the first `STATE_BLOCKS` blocks of a verification that has had a step already (the open
block of a pipelined step), the forward also feeds candidate states
of the block: the draft's block with some of its undecided positions masked again (each one
alone, and each suffix of two or more; the places a first step typically leaves open). Each
candidate is one more masked copy at the block's positions that sees what the block's masked
copy sees (the cache, the pending block, the earlier draft blocks) and itself. If the real
first step leaves exactly a candidate's state, that copy's logits are exactly the second step's,
so the second step is applied without a forward of its own. Threshold selection only (fixed
schedules count steps), and only when the second step decides the rest of the block.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from diffcoder.model.selection import select_commits
from diffcoder.model.steps import ForwardOp
from diffcoder.model.types import DecodeConfig

STATE_BLOCKS = 1  # blocks of a verification that get candidate states (their cost: rows)


@dataclass(frozen=True)
class CandidateState:
    block: int  # index of the block in the verification's spans
    row: int  # first logits row of its copy
    open_: torch.Tensor  # [block length] positions still undecided in this state


@dataclass(frozen=True)
class PlannedStates:
    """A `draft.PlannedVerification` whose forward also feeds candidate states (`states`, with
    their logits rows): the same fields, and these."""

    forward: ForwardOp
    spans: list[tuple[int, int, int, int]]
    draft: torch.Tensor
    states: tuple[CandidateState, ...] = ()


def candidate_states(open_: torch.Tensor) -> list[torch.Tensor]:
    """States a first step may leave: one undecided position alone, or a suffix of two or more
    of them (a change that starts inside the block)."""
    places = open_.nonzero().flatten().tolist()
    if len(places) < 2:
        return []
    states = []
    for place in places:
        state = torch.zeros_like(open_)
        state[place] = True
        states.append(state)
    for length in range(2, len(places)):
        state = torch.zeros_like(open_)
        state[places[-length:]] = True
        states.append(state)
    return states


def copies_mask(
    positions: torch.Tensor, groups: torch.Tensor, clean: int, block_length: int
) -> torch.Tensor:
    """[n, n]: the first `clean` rows block-causal among themselves; every other row (a masked
    copy or a candidate state, `groups` telling them apart) sees the clean rows of earlier blocks
    and the rows of its own group only."""
    blocks = torch.div(positions, block_length, rounding_mode="floor")
    is_clean = torch.arange(positions.shape[0], device=positions.device) < clean
    q_blocks, k_blocks = blocks[:, None], blocks[None, :]
    q_clean, k_clean = is_clean[:, None], is_clean[None, :]
    clean_rows = q_clean & k_clean & (k_blocks <= q_blocks)
    copy_rows = ~q_clean & (
        (k_clean & (k_blocks < q_blocks)) | (~k_clean & (groups[:, None] == groups[None, :]))
    )
    return clean_rows | copy_rows


def plan_states(
    tokens: torch.Tensor,
    undecided: torch.Tensor,
    clean: torch.Tensor,
    spans: list[tuple[int, int, int, int]],
    *,
    start: int,
    first_row: int,
    room: int,
    opened: bool,
    replayed: torch.Tensor | None = None,
) -> tuple[list[torch.Tensor], list[CandidateState]]:
    """(ids, states) of the candidate copies for the spans' first blocks, while
    they fit in `room` cache slots; rows are numbered from `first_row` of the logits.
    `tokens`/`undecided` are the canvas's, `clean` the draft-filled blocks from `start`.
    Only for a first block that has had a step already (`opened`): a fresh block's candidates
    (six copies) cost more rows than they save forwards, since the open block's next step
    verifies what follows it anyway (`sampler._pipelined_step`).
    `replayed` ([the proposal's tokens for the spans' undecided positions] bool) marks tokens a
    learned replacement wrote (`draft_replay`): new code, likely left open by a first step, so
    each block holding some gets the one candidate that leaves exactly them open."""
    ids, states = [], []
    row = first_row
    for index, (b_start, b_end, offset, masked) in enumerate(spans):
        open_ = undecided[b_start:b_end]
        candidates = candidate_states(open_) if opened and index < STATE_BLOCKS else []
        if replayed is not None:
            candidates += _replay_state(open_, replayed[offset : offset + masked])
        for state in candidates:
            if room < b_end - b_start:
                return ids, states
            room -= b_end - b_start
            block = clean[b_start - start : b_end - start]
            ids.append(torch.where(state, tokens[b_start:b_end], block))
            states.append(CandidateState(block=index, row=row, open_=state))
            row += b_end - b_start
    return ids, states


def _replay_state(open_: torch.Tensor, replayed: torch.Tensor) -> list[torch.Tensor]:
    """The state a first step leaves in a block whose replayed tokens are unsure: those open,
    the rest decided (when all are replayed, the first is the step's one forced commit)."""
    if not bool(replayed.any()):
        return []
    state = torch.zeros_like(open_)
    state[open_.nonzero().flatten()[replayed]] = True
    if bool(torch.equal(state, open_)):
        state[int(open_.nonzero()[0])] = False
    return [state] if bool(state.any()) else []


def second_step(
    states: tuple[CandidateState, ...],
    index: int,
    open_: torch.Tensor,
    chosen: torch.Tensor,
    first: torch.Tensor,
    block_draft: torch.Tensor,
    tokens: torch.Tensor,
    confidence: torch.Tensor,
    config: DecodeConfig,
) -> torch.Tensor | None:
    """The second step's tokens for block `index` when its first step (`chosen`, with tokens
    `first`) left a candidate's state and the second step decides the rest; else None."""
    if config.threshold is None:
        return None
    left = open_ & ~chosen
    if not bool(torch.equal(first[chosen], block_draft[chosen])):
        return None
    for state in states:
        if state.block != index or not bool(torch.equal(state.open_, left)):
            continue
        rows = slice(state.row, state.row + left.shape[0])
        again = select_commits(confidence[rows], left, threshold=config.threshold)
        if bool(torch.equal(again, left)):
            return tokens[rows]
        return None
    return None
