"""Training rows: plain code, fill-in-the-middle and instruction edits, packed into fixed lengths.

Every sample ends with 1-4 EOS (so the model can stop inside a block). FIM samples use the
layout `build_fim_prompt` sends (suffix, prefix, middle) and edit samples the exact prompt
`build_edit_prompt` builds, so the model is trained on what the editor will ask.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from diffcoder.editing.edit_prompt import build_edit_prompt
from diffcoder.training.config import Mixture
from diffcoder.training.corpus import Definition, SourceFile, functions
from diffcoder.training.synthetic_edits import make_edit


@dataclass(frozen=True)
class SampleIds:
    """The special ids samples are built from (a subset of the model's `SpecialIds`)."""

    eos: int
    fim_prefix: int
    fim_suffix: int
    fim_middle: int


class SampleMaker:
    """Draws samples from `files` with its own seeded random generator."""

    def __init__(
        self,
        files: tuple[SourceFile, ...],
        tokenizer: Any,  # a transformers fast tokenizer with the chat template
        special: SampleIds,
        length: int,
        mixture: Mixture,
        seed: int,
    ) -> None:
        self.files = files
        self.tokenizer = tokenizer
        self.special = special
        self.length = length
        self.mixture = mixture
        self.rng = random.Random(seed)
        self._functions: dict[int, list[Definition]] = {}
        self._pending: list[int] = []

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True)

    def _ending(self) -> list[int]:
        return [self.special.eos] * self.rng.randint(1, 4)

    def _function(self) -> tuple[str, Definition] | None:
        index = self.rng.randrange(len(self.files))
        if index not in self._functions:
            self._functions[index] = functions(self.files[index].text)
        found = self._functions[index]
        if not found:
            return None
        return self.files[index].text, self.rng.choice(found)

    def plain(self) -> list[int]:
        text = self.rng.choice(self.files).text
        lines = text.split("\n")
        start = self.rng.randrange(len(lines))
        window = "\n".join(lines[start:])[: self.length * 5]
        ids = self.encode(window)
        ending = self._ending() if len(ids) < self.length else []
        return ids[: self.length] + ending

    def fim(self) -> list[int] | None:
        picked = self._function()
        if picked is None:
            return None
        text, fn = picked
        body = text[fn.body_start : fn.end].split("\n")[:-1]
        line = self.rng.randrange(len(body))
        start = fn.body_start + sum(len(x) + 1 for x in body[:line])
        kind = self.rng.random()
        if kind < 0.5:  # one whole line
            end = start + len(body[line]) + 1
        elif kind < 0.75:  # the rest of a line from inside it
            start += self.rng.randrange(len(body[line]) + 1)
            end = fn.body_start + sum(len(x) + 1 for x in body[: line + 1])
        else:  # a few lines
            end = fn.body_start + sum(len(x) + 1 for x in body[: line + self.rng.randint(2, 6)])
        end = min(end, len(text))
        prefix = text[max(0, start - self.length * 3) : start]
        suffix = text[end : end + self.length]
        s = self.special
        prefix_ids, suffix_ids = self.encode(prefix), self.encode(suffix)
        middle_ids = self.encode(text[start:end])
        budget = self.length - len(middle_ids) - 8
        if budget < 16:
            return None
        suffix_ids = suffix_ids[: budget // 4]
        prefix_ids = prefix_ids[len(prefix_ids) - (budget - len(suffix_ids)) :]
        return [
            s.fim_suffix, *suffix_ids, s.fim_prefix, *prefix_ids, s.fim_middle, *middle_ids,
            *self._ending(),
        ]  # fmt: skip

    def edit(self) -> list[int] | None:
        picked = self._function()
        if picked is None:
            return None
        text, fn = picked
        made = make_edit(text, fn, self.rng)
        if made is None or len(text[fn.start : fn.end]) > self.length * 1.2:
            return None
        instruction, new_region = made
        lines = text.split("\n")
        first_line = text.count("\n", 0, fn.start)
        last_line = text.count("\n", 0, fn.end)
        above = self.rng.randint(0, 40)
        window_start = sum(len(x) + 1 for x in lines[: max(0, first_line - above)])
        window_end = sum(len(x) + 1 for x in lines[: last_line + self.rng.randint(0, 20)])
        window = text[window_start : max(window_end, fn.end)]
        try:
            prompt = build_edit_prompt(
                self.tokenizer,
                file_text=window,
                region_start=fn.start - window_start,
                region_end=fn.end - window_start,
                instruction=instruction,
                language="python",
                path=None,
                context_tokens=self.length,
            )
        except ValueError:
            return None
        new_region += "" if new_region.endswith("\n") else "\n"
        answer = self.encode(new_region + prompt.stop_strings[0])
        ids = prompt.prompt_ids + answer + self._ending()
        return ids if len(ids) <= self.length else None

    def sample(self) -> tuple[list[int], bool]:
        """Token ids and whether they may be cut (plain code may, structured samples not)."""
        while True:
            draw = self.rng.random()
            if draw < self.mixture.fim_share:
                ids = self.fim()
            elif draw < self.mixture.fim_share + self.mixture.edit_share:
                ids = self.edit()
            else:
                ids = self.plain()
            if ids:
                return ids, draw >= self.mixture.fim_share + self.mixture.edit_share

    def row(self) -> list[int]:
        """`length` tokens of samples packed back to back. Only plain code is cut at the end;
        a FIM or edit sample that does not fit waits for the next row."""
        row = self._pending
        self._pending = []
        while len(row) < self.length:
            ids, cuttable = self.sample()
            if not cuttable and len(row) + len(ids) > self.length:
                self._pending = self._pending or ids
                ids = self.plain()
            row += ids
        return row[: self.length]
