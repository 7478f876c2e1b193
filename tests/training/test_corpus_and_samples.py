"""Corpus reading, synthetic edits and the packed training rows."""

from __future__ import annotations

import ast
import random

from diffcoder.editing.edit_prompt import build_edit_prompt
from diffcoder.training.config import Mixture
from diffcoder.training.corpus import functions, read_sources, split_corpus
from diffcoder.training.samples import SampleIds, SampleMaker
from diffcoder.training.synthetic_edits import guard_edit, rename_function, rename_parameter
from tests.training.conftest import MODULE

SPECIAL = SampleIds(eos=2, fim_prefix=124, fim_suffix=125, fim_middle=126)


def test_sources_skip_tests_duplicates_and_broken_files(source_tree):
    files = read_sources(source_tree)
    names = {f.path for f in files}
    assert len(files) == 12 and "broken.py" not in names
    assert len(names & {"copy_of_0.py", "module_0.py"}) == 1  # same text: kept once
    assert not any(n.startswith("test") for n in names)
    split = split_corpus(files, heldout_share=0.3)
    assert len(split.train) + len(split.heldout) == 12 and split.heldout
    assert split_corpus(files, heldout_share=0.3) == split  # by content hash: stable


def test_functions_find_bodies_after_docstrings():
    found = {fn.name: fn for fn in functions(MODULE)}
    assert set(found) == {"mean", "__init__", "scaled"}
    mean = found["mean"]
    assert MODULE[mean.body_start :].startswith("    return sum(xs)")
    assert mean.params == ("xs",) and mean.indent == "    "
    assert found["scaled"].params == ("self", "factor")
    assert MODULE[found["scaled"].start : found["scaled"].end].endswith("return Box(result)\n")


def test_synthetic_edits_are_exact_and_parse():
    rng = random.Random(0)
    fns = {fn.name: fn for fn in functions(MODULE)}
    instruction, new = guard_edit(MODULE, fns["mean"], rng)
    assert "return" in instruction
    assert new.split("\n")[2].strip() == "if not xs:" and new.startswith('def mean(xs):\n    """')
    ast.parse(new)
    instruction, new = rename_function(MODULE, fns["mean"], rng)
    assert instruction.startswith("Rename the function `mean` to `") and "def mean" not in new
    instruction, new = rename_parameter(MODULE, fns["scaled"], rng)
    old = "factor" if "`factor`" in instruction else "self"
    assert old == "factor" and "factor" not in new and "self.size" in new
    ast.parse("class C:\n" + new)


def test_fim_and_edit_samples_use_the_editor_layouts(source_tree, small_tokenizer):
    files = tuple(read_sources(source_tree))
    maker = SampleMaker(files, small_tokenizer, SPECIAL, 320, Mixture(), seed=0)
    fim = next(s for s in iter(maker.fim, 0) if s)
    assert fim[0] == SPECIAL.fim_suffix and fim.count(SPECIAL.fim_prefix) == 1
    middle_at = fim.index(SPECIAL.fim_middle)
    assert fim.index(SPECIAL.fim_prefix) < middle_at and fim[-1] == SPECIAL.eos
    edit = next(s for s in iter(maker.edit, 0) if s)
    text = small_tokenizer.decode(edit)
    assert "## Instruction\n" in text and text.replace("<[end▁of▁sentence]>", "").endswith("```")
    assert text.startswith("<[begin▁of▁sentence]>user\n")


def test_edit_sample_prompt_is_exactly_build_edit_prompt(small_tokenizer):
    fn = next(f for f in functions(MODULE) if f.name == "mean")
    prompt = build_edit_prompt(
        small_tokenizer,
        file_text=MODULE,
        region_start=fn.start,
        region_end=fn.end,
        instruction="Handle the empty list: return 0.0.",
        language="python",
    )
    # The training sample's prefix is these ids (see SampleMaker.edit); the answer follows.
    answer = small_tokenizer.decode(prompt.prompt_ids)
    assert answer.endswith("<[begin▁of▁sentence]>assistant\n```python\n")


def test_rows_have_the_length_and_keep_structured_samples_whole(source_tree, small_tokenizer):
    files = tuple(read_sources(source_tree))
    mixture = Mixture(fim_share=0.5, edit_share=0.5)  # no plain code: everything structured
    maker = SampleMaker(files, small_tokenizer, SPECIAL, 256, mixture, seed=1)
    rows = [maker.row() for _ in range(6)]
    assert [len(row) for row in rows] == [256] * 6
    fim_starts = [row[i:] for row in rows for i, t in enumerate(row) if t == SPECIAL.fim_suffix]
    assert len(fim_starts) >= 3
    # every FIM sample that starts in a row reaches its middle inside the row
    assert all(SPECIAL.fim_middle in rest for rest in fim_starts)
