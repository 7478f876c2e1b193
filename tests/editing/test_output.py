"""Output handling: code extraction, echo removal, re-indentation, newline style; and the identity
property (the draft answer, unchanged, gives back the original region exactly)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffcoder.editing.budgets import PromptTooLongError
from diffcoder.editing.edit_prompt import build_edit_prompt
from diffcoder.editing.output import (
    REGION_MARKER,
    AnswerContext,
    detect_newline,
    extract_code,
    fence_for,
    postprocess_edit,
)

SOURCE = '''import os


class Counter:
    """Counts things."""

    def __init__(self, step):
        self.step = step

    def add(self, items):
        for item in items:
            self.total += self.step
        return self.total

    def reset(self):
        self.total = 0
'''
ADD = SOURCE[SOURCE.index("    def add") : SOURCE.index("\n\n    def reset") + 1]


def region(text: str = SOURCE, piece: str = ADD, **fields) -> AnswerContext:
    start = text.index(piece)
    above = text[:start].replace("\r\n", "\n").split("\n")[:-1]
    below = text[start + len(piece) :].replace("\r\n", "\n").split("\n")
    info = dict(lines_before=tuple(above), lines_after=tuple(below), newline=detect_newline(text))
    info.update(fields)
    return AnswerContext(start=start, end=start + len(piece), original_text=piece, **info)


@pytest.mark.parametrize(
    ("generated", "code"),
    [
        ("Here you go:\n```python\nx = 1\n```\nDone. ```py\ny\n```", "x = 1\n"),
        ("```\nx = 1\ny = 2", "x = 1\ny = 2"),  # missing closing fence
        ("x = 1\ny = 2\n", "x = 1\ny = 2\n"),  # bare
        ("````md\n```py\ncode\n```\n````\n", "```py\ncode\n```\n"),  # longer fence
        ("```python\r\nx = 1\r\n```\r\n", "x = 1\n"),
        ("```python\n```", ""),
    ],
)
def test_extract_code_from_a_whole_answer(generated, code):
    assert extract_code(generated) == code


@pytest.mark.parametrize(
    ("generated", "code"),
    [
        ("x = 1\n```\nexplanation", "x = 1\n"),  # stops at the closing fence
        ("x = 1\n", "x = 1\n"),  # the stop string already cut the fence off
        ("```python\nx = 1\n```", "x = 1\n"),  # the model repeated the opening fence
        ("```\nmore", ""),  # an immediate closing fence is an empty answer
        ("  ```inline``` is not a fence line\n```", "  ```inline``` is not a fence line\n"),
    ],
)
def test_extract_code_after_an_opened_fence(generated, code):
    assert extract_code(generated, opened=True) == code


def test_extract_code_needs_at_least_the_opening_fence_length():
    assert extract_code("a\n```\nb\n````\nc", opened=True, fence="````") == "a\n```\nb\n"


def test_fence_is_longer_than_any_backtick_run():
    assert fence_for("x = 1") == "```"
    assert fence_for('doc = """\n```py\n```\n"""') == "````"
    assert fence_for("`````") == "``````"


def test_detect_newline():
    assert detect_newline("a\r\nb\r\nc\n") == "\r\n"
    assert detect_newline("a\nb") == "\n"
    assert detect_newline("a\rb\r") == "\r"
    assert detect_newline("no newline") == "\n"


def test_unchanged_answer_gives_the_region_back():
    answer = ADD + "```"
    assert postprocess_edit(answer, region()) == ADD


def test_dedented_answer_is_reindented():
    answer = "def add(self, items):\n    return sum(items)\n```"
    assert (
        postprocess_edit(answer, region())
        == "    def add(self, items):\n        return sum(items)\n"
    )


def test_deeper_answer_is_left_alone():
    answer = "        if True:\n            pass\n"
    assert postprocess_edit(answer, region()) == answer


def test_tab_indentation_is_restored():
    text = SOURCE.replace("    ", "\t")
    piece = ADD.replace("    ", "\t")
    answer = "def add(self, items):\n\treturn 0\n"
    assert (
        postprocess_edit(answer, region(text, piece)) == "\tdef add(self, items):\n\t\treturn 0\n"
    )


def test_echoed_neighbours_and_enclosing_header_are_dropped():
    answer = (
        "    def __init__(self, step):\n        self.step = step\n\n"
        "    def add(self, items):\n        return 0\n\n    def reset(self):\n"
    )
    assert postprocess_edit(answer, region()) == "    def add(self, items):\n        return 0\n"
    info = region(headers=("class Counter:",))
    answer = "class Counter:\n    def add(self, items):\n        return 0\n"
    assert postprocess_edit(answer, info) == "    def add(self, items):\n        return 0\n"


def test_lines_the_region_itself_starts_with_are_kept():
    text = "x = 1\nx = 1\ny = 2\n"
    answer = "x = 1\ny = 3\n"
    assert postprocess_edit(answer, region(text, "x = 1\ny = 2\n")) == answer


def test_marker_line_is_never_copied():
    answer = f"    # {REGION_MARKER}\n    def add(self, items):\n        return 0\n"
    assert postprocess_edit(answer, region()) == "    def add(self, items):\n        return 0\n"


def test_crlf_and_trailing_newline_conventions_are_restored():
    text = SOURCE.replace("\n", "\r\n")
    piece = ADD.replace("\n", "\r\n").rstrip("\r\n")  # a region that stops before its line end
    answer = "def add(self, items):\n    return 0\n\n\n"
    expected = "    def add(self, items):\r\n        return 0"
    assert postprocess_edit(answer, region(text, piece)) == expected


def test_blank_lines_around_the_region_are_kept():
    piece = "\n" + ADD + "\n"  # the blank lines above and below
    text = SOURCE
    answer = "    def add(self, items):\n        return 0\n"
    assert postprocess_edit(answer, region(text, piece)) == "\n" + answer + "\n"


def test_empty_answer_deletes_the_region_but_never_blank_space():
    assert postprocess_edit("```", region()) == ""
    assert postprocess_edit("\n\n```", region(SOURCE, "\n\n")) == "\n\n"


def test_insertion_into_an_empty_region_ends_its_line():
    start = SOURCE.index("    def reset")
    info = AnswerContext(start=start, end=start, original_text="", newline="\n")
    assert postprocess_edit("    def clear(self):\n        pass", info) == (
        "    def clear(self):\n        pass\n"
    )


def test_postprocess_reads_the_prompts_answer_context(small_tokenizer):
    start = SOURCE.index("    def add")
    prompt = build_edit_prompt(
        small_tokenizer,
        file_text=SOURCE,
        region_start=start,
        region_end=start + len(ADD),
        instruction="Use sum().",
        language="python",
    )
    answer = "def add(self, items):\n    return sum(items)\n```\nThat's it."
    assert (
        postprocess_edit(answer, prompt.answer_context)
        == "    def add(self, items):\n        return sum(items)\n"
    )


VARIANTS = [
    SOURCE,
    SOURCE.replace("\n", "\r\n"),
    SOURCE.replace("\n", "\r"),
    SOURCE.replace("    ", "\t").rstrip("\n"),
    'a😀 = "中文"\n\n\nb = 2\n  \n',
    "x = 1",
    "",
]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.sampled_from(VARIANTS), st.data())
def test_draft_answer_is_the_identity(small_tokenizer, text, data):
    """A model that changes nothing (answers with the draft) must not change the file."""
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    try:
        prompt = build_edit_prompt(
            small_tokenizer,
            file_text=text,
            region_start=start,
            region_end=end,
            instruction="Keep it.",
            language="python",
            context_tokens=700,
        )
    except PromptTooLongError:
        return
    if start and text[start - 1 : start + 1] == "\r\n":
        start += 1  # a region never starts between \r and \n
    assert prompt.answer_context.start <= start and prompt.answer_context.end >= end
    assert len(prompt.prompt_ids) + prompt.max_new_tokens <= 700
    assert (
        postprocess_edit(prompt.draft_text, prompt.answer_context)
        == prompt.answer_context.original_text
    )


def test_answer_of_only_echoed_context_changes_nothing():
    assert postprocess_edit("\n    def reset(self):\n```", region()) == ADD
