"""Minimal replacements: applying them gives the new text exactly, and they stay small."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffcoder.editing import text_edits
from diffcoder.editing.text_edits import (
    Replacement,
    apply_replacements,
    minimal_replacements,
    shift_replacements,
    split_lines,
)

PIECES = ["a", "b", "x = 1", " ", "\t", "\n", "\r\n", "\r", "😀", "中文", "é", "def f():", ""]
TEXTS = st.lists(st.sampled_from(PIECES), max_size=25).map("".join)


@st.composite
def edited_pairs(draw):
    """An old text and a new one made from it by a few insertions, deletions and replacements,
    like a model's answer (mostly the same text)."""
    old = draw(TEXTS)
    new = old
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.integers(0, len(new)))
        end = draw(st.integers(start, min(len(new), start + 6)))
        new = new[:start] + draw(TEXTS.filter(lambda t: len(t) < 12)) + new[end:]
    return old, new


def check(old: str, new: str) -> list[Replacement]:
    reps = minimal_replacements(old, new)
    assert apply_replacements(old, reps) == new
    for rep in reps:
        assert 0 <= rep.start <= rep.end <= len(old)
        assert old[rep.start : rep.end] != rep.text  # no no-op replacements
        for offset in (rep.start, rep.end):
            assert old[offset - 1 : offset + 1] != "\r\n" or offset == 0  # never split \r\n
    for before, after in zip(reps, reps[1:], strict=False):
        assert before.end < after.start  # sorted, not overlapping, not even touching
    return reps


@settings(max_examples=300)
@given(edited_pairs())
def test_replacements_reproduce_an_edited_text(pair):
    check(*pair)


@settings(max_examples=300)
@given(TEXTS, TEXTS)
def test_replacements_reproduce_any_text(old, new):
    check(old, new)


@given(TEXTS)
def test_unchanged_text_needs_no_replacements(text):
    assert minimal_replacements(text, text) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("", "", []),
        ("", "abc", [Replacement(0, 0, "abc")]),
        ("abc", "", [Replacement(0, 3, "")]),
        ("x = 1\ny = 2\n", "x = 1\ny = 3\n", [Replacement(10, 11, "3")]),
        ("a😀b\n中文\n", "a😀c\n中文\n", [Replacement(2, 3, "c")]),
        ("one\ntwo\n", "one\ninserted\ntwo\n", [Replacement(4, 4, "inserted\n")]),
        ("one\r\ntwo\r\n", "one\r\nTwo\r\n", [Replacement(5, 6, "T")]),
        ("\tif x:\n\t\tpass\n", "\tif y:\n\t\tpass\n", [Replacement(4, 5, "y")]),
    ],
)
def test_small_changes_give_small_replacements(old, new, expected):
    assert check(old, new) == expected


def test_newline_style_change_replaces_whole_line_ends():
    # The \r\n pairs are replaced whole (a position between \r and \n does not exist in LSP).
    assert check("a\r\nb\r\n", "a\nb\n") == [Replacement(1, 6, "\nb\n")]
    assert check("a\r\n", "a\r") == [Replacement(1, 3, "\r")]


def test_nearby_character_edits_fold_into_one():
    assert check("foo(a, b)\n", "bar(x, y)\n") == [Replacement(0, 8, "bar(x, y")]


def test_huge_hunks_fall_back_to_prefix_and_suffix_trimming(monkeypatch):
    monkeypatch.setattr(text_edits, "MAX_CHAR_DIFF_CELLS", 4)
    reps = check("start abc end\n", "start xyz end\n")
    assert reps == [Replacement(6, 9, "xyz")]
    check("a\r\n", "b\r\n")


def test_apply_rejects_overlapping_or_unsorted_replacements():
    with pytest.raises(ValueError, match="sorted"):
        apply_replacements("abcdef", [Replacement(2, 4, "x"), Replacement(3, 5, "y")])
    with pytest.raises(ValueError, match="outside"):
        apply_replacements("abc", [Replacement(2, 9, "x")])


def test_shift_moves_region_offsets_into_the_document():
    document = "head\nold body\ntail\n"
    start = document.index("old")
    region = document[start : document.index("tail")]
    reps = shift_replacements(minimal_replacements(region, "new body\n"), start)
    assert apply_replacements(document, reps) == "head\nnew body\ntail\n"


def test_split_lines_keeps_every_line_end():
    assert split_lines("a\r\nb\rc\n\nd") == ["a\r\n", "b\r", "c\n", "\n", "d"]
    assert split_lines("") == []
