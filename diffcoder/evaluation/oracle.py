"""The gold-answer oracle of `diffcoder eval edit --oracle`: a `GenerationBackend` that writes,
for the region its prompt shows, what the gold program has there.

It reads only what a model reads: the prompt's text (the region in `## Code Before`, the file
around the marker in `## File`) and the decoding config (the fence that ends the answer, the token
allowance). It finds that region in the problem's `before` program, and when every line the gold
edit changes lies inside it, answers the gold program's lines for it, then the closing fence and
EOS, over the backend's tokenizer, cut where the engine would cut (the stop string, or
`max_new_tokens`). When the gold change reaches outside the region it answers the region
unchanged: a scope miss.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from dataclasses import dataclass

from diffcoder.editing.output import REGION_MARKER, to_lf
from diffcoder.model.backend import BackendInfo, PromptTokenizer
from diffcoder.model.types import (
    CancelFlag,
    DecodeConfig,
    FinishReason,
    GenerationResult,
    SpecialIds,
    StepInfo,
)

GOLD, SCOPE_MISS, UNLOCATED = "gold", "scope_miss", "unlocated"


@dataclass(frozen=True)
class ShownRegion:
    """What a prompt shows of the file: the region (LF) and the file lines just around the
    marker in `## File`, nearest first (empty when the region is the whole file)."""

    region: str
    above: tuple[str, ...] = ()
    below: tuple[str, ...] = ()


@dataclass(frozen=True)
class OracleVerdict:
    """What the oracle answered for one prompt and why."""

    verdict: str  # GOLD, SCOPE_MISS (gold change outside the region) or UNLOCATED
    rows: tuple[int, int] | None = None  # the region's lines of `before`, 0-based, end exclusive
    outside_row: int | None = None  # a line of `before` the gold changes outside the region
    answer: str = ""  # the code the oracle wrote (LF), before the closing fence
    expected_text: str | None = None  # the program the pipeline should leave (LF)

    def as_record(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "rows": list(self.rows) if self.rows else None,
            "outside_row": self.outside_row,
        }


def shown_region(prompt_text: str, fence: str) -> ShownRegion | None:
    """The region and its neighbours as the edit prompt shows them (None: not an edit prompt)."""
    head = f"## Code Before\n{fence}"
    at = prompt_text.find(head)
    if at < 0:
        return None
    body_start = prompt_text.find("\n", at + len(head)) + 1
    body_end = prompt_text.find(fence, body_start)
    if body_start <= 0 or body_end < 0:
        return None
    region = prompt_text[body_start:body_end]
    file_at = prompt_text.rfind("## File", 0, at)
    if file_at < 0:
        return ShownRegion(region)
    context = prompt_text[prompt_text.find("\n", file_at) + 1 : at]
    lines = context.split("\n")
    marked = [i for i, line in enumerate(lines) if REGION_MARKER in line]
    if not marked:
        return ShownRegion(region)
    i = marked[0]
    return ShownRegion(region, tuple(reversed(lines[1:i])), tuple(lines[i + 1 :]))


def _neighbours_match(lines: list[str], start: int, end: int, shown: ShownRegion) -> int:
    """How many of the shown neighbours, nearest first, equal the file's lines at that place."""
    score = 0
    for side, step, first in ((shown.above, -1, start - 1), (shown.below, 1, end)):
        for k, line in enumerate(side):
            row = first + step * k
            if line.lstrip().startswith(("#", "//")) and line.strip().endswith("..."):
                break  # an elided run: the file's lines differ from here on
            if not 0 <= row < len(lines) or lines[row] != line:
                break
            score += 1
    return score


def locate(before: str, shown: ShownRegion) -> tuple[int, int] | None:
    """The lines of `before` (0-based, end exclusive) that the shown region is; the place whose
    neighbours best match the prompt's when the region's text occurs more than once."""
    lines = to_lf(before).split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline, not a line
    wanted = shown.region[:-1].split("\n") if shown.region.endswith("\n") else None
    if not wanted:
        return None  # an empty or partial-line region: eval regions are whole lines
    n = len(wanted)
    starts = [i for i in range(len(lines) - n + 1) if lines[i : i + n] == wanted]
    if not starts:
        return None
    best = max(starts, key=lambda i: _neighbours_match(lines, i, i + n, shown))
    return best, best + n


def _code_rows(lines: list[str]) -> list[int]:
    return [row for row, line in enumerate(lines) if line.strip()]


def gold_answer(before: str, after: str, rows: tuple[int, int]) -> OracleVerdict:
    """The gold program's code for `before`'s lines `rows`, when every change lies inside them.

    The two programs are compared on their non-blank lines without trailing whitespace: blank
    lines and trailing whitespace change no code (the pipeline keeps the region's own blank lines
    at its edges). An insertion between the region's code and the code next to it counts as
    inside."""
    old = to_lf(before).splitlines(keepends=True)
    new = to_lf(after).splitlines(keepends=True)
    r0, r1 = rows
    old_code, new_code = _code_rows(old), _code_rows(new)
    inner = [k for k, row in enumerate(old_code) if r0 <= row < r1]
    if not inner:
        return OracleVerdict(UNLOCATED, rows)  # a region of blank lines only
    k0, k1 = inner[0], inner[-1] + 1
    matcher = difflib.SequenceMatcher(
        None,
        [old[row].rstrip() for row in old_code],
        [new[row].rstrip() for row in new_code],
        autojunk=False,
    )
    starts, ends = [], []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            if i1 <= k0 < i2:
                starts.append(j1 + k0 - i1)
            if i1 < k1 <= i2:
                ends.append(j1 + k1 - i1)
            continue
        if not (k0 <= i1 and i2 <= k1):
            outside = old_code[min(i1 if i1 < k0 else i2 - 1, len(old_code) - 1)]
            return OracleVerdict(SCOPE_MISS, rows, outside_row=outside)
        if i1 == k0:
            starts.append(j1)
        if i2 == k1:
            ends.append(j2)
    b0, b1 = min(starts), max(ends)
    code = "".join(new[new_code[b0] : new_code[b1 - 1] + 1]) if b1 > b0 else ""
    if code and not code.endswith("\n"):
        code += "\n"
    lead, trail = old[r0 : old_code[k0]], old[old_code[k1 - 1] + 1 : r1]
    kept = "".join(lead) + code + "".join(trail) if code else ""
    expected = "".join(old[:r0]) + kept + "".join(old[r1:])
    return OracleVerdict(GOLD, rows, answer=code, expected_text=expected)


def decide(before: str, after: str, prompt_text: str, fence: str) -> OracleVerdict:
    """The oracle's answer to one edit prompt about `before` whose gold program is `after`."""
    shown = shown_region(prompt_text, fence)
    rows = locate(before, shown) if shown is not None else None
    if shown is None or rows is None:
        return OracleVerdict(UNLOCATED, answer=shown.region if shown else "")
    verdict = gold_answer(before, after, rows)
    if verdict.verdict == SCOPE_MISS:
        return OracleVerdict(SCOPE_MISS, rows, verdict.outside_row, answer=shown.region)
    return verdict


class OracleBackend:
    """A `GenerationBackend` answering edit prompts about `gold = (before, after)` with the
    gold code (set `gold` before each request; `verdicts` records every answer)."""

    def __init__(
        self, tokenizer: PromptTokenizer, special: SpecialIds, *, name: str = "oracle"
    ) -> None:
        self._tokenizer, self._special, self.name = tokenizer, special, name
        self.gold: tuple[str, str] | None = None
        self.verdicts: list[OracleVerdict] = []

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
            summary="gold-answer oracle (writes the gold code for the region it is shown)",
            model=self.name,
            device="cpu",
            quant="none",
            dtype="none",
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
        if self.gold is None:
            raise RuntimeError("OracleBackend.gold is not set: which problem is this prompt for?")
        started = time.perf_counter()
        if cancel is not None and cancel.is_set():
            return GenerationResult.cancelled_before_start(len(prompt_ids))
        fence = config.stop_strings[0] if config.stop_strings else "```"
        verdict = decide(*self.gold, self._tokenizer.decode(list(prompt_ids)), fence)
        self.verdicts.append(verdict)
        ids, text, finish = self._decoded(verdict.answer + fence, config)
        if on_step is not None:
            on_step(StepInfo(0, 0, len(ids), config.max_new_tokens, len(ids)))
        return GenerationResult(
            token_ids=ids,
            text=text,
            finish_reason=finish,
            # One forward per token, autoregressive decoding's cost: the oracle measures the
            # pipeline's fidelity, not decoding (`diffcoder bench edits` measures forwards).
            nfe=len(ids),
            prompt_tokens=len(prompt_ids),
            prefill_seconds=0.0,
            decode_seconds=time.perf_counter() - started,
        )

    def _decoded(self, written: str, config: DecodeConfig) -> tuple[list[int], str, FinishReason]:
        """What the engine returns for a model that writes `written` then EOS within
        `max_new_tokens` positions: cut at EOS ("eos"), then before the first stop string
        ("stop"); neither: "length"."""
        decode, eos = self._tokenizer.decode, self._special.eos
        ids = self._tokenizer.encode(written, add_special_tokens=False) + [eos]
        ids = ids[: config.max_new_tokens]
        finish: FinishReason = "length"
        if eos in ids:
            ids, finish = ids[: ids.index(eos)], "eos"
        text = decode(ids)
        hits = [text.find(s) for s in config.stop_strings if s and s in text]
        if not hits:
            return ids, text, finish
        cut = min(hits)
        # the ids before the token the stop string starts in (decoded length grows with them)
        low, high = 0, len(ids)
        while low < high:
            middle = (low + high + 1) // 2
            if len(decode(ids[:middle])) <= cut:
                low = middle
            else:
                high = middle - 1
        return ids[:low], text[:cut], "stop"
