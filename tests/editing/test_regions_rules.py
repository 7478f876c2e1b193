"""Instruction widening (names defined elsewhere, words pointing outside) and the token budget."""

from __future__ import annotations

import pytest

from diffcoder.editing.budgets import DEFAULT_REGION_TOKENS
from diffcoder.editing.instruction_hints import class_word, file_word, mentioned_names
from diffcoder.editing.regions import choose_region, estimate_tokens
from tests.editing.test_regions import assert_whole_lines, load, offset_of_row, rows_of

PY = load("sample.py")
IN_ADD = offset_of_row(PY, 31, 16)  # inside Counter.add
IN_HELPER = offset_of_row(PY, 11, 4)


@pytest.mark.parametrize(
    ("instruction", "kind", "rows"),
    [
        ("make it faster", "method", (28, 32)),
        ("add type hints", "method", (28, 32)),
        ("use `helper` to double the step", "file", (0, 41)),
        ("compare against LIMIT + 1", "file", (0, 41)),
        ("also reset `total` in __init__", "class", (15, 32)),
        ("import math and use math.floor", "file", (0, 41)),
        ("add a new method that resets the counter", "class", (15, 32)),
        ("store the items as an attribute", "class", (15, 32)),
        ("update the methods to log", "class", (15, 32)),
        ("rename add to add_all everywhere", "file", (0, 41)),
        ("move the threshold into a module-level constant", "file", (0, 41)),
        ("write a helper function for the loop", "file", (0, 41)),
        ("fix the indentation", "file", (0, 41)),
    ],
)
def test_instruction_widens_from_a_method(instruction: str, kind: str, rows: tuple) -> None:
    region = choose_region(PY, "python", cursor=IN_ADD, instruction=instruction)
    assert (region.kind, rows_of(PY, region)) == (kind, rows)
    if kind != "method":
        assert "instruction" in region.reason


def test_class_words_in_a_plain_function_widen_to_the_file() -> None:
    region = choose_region(PY, "python", cursor=IN_HELPER, instruction="turn this into a class")
    assert region.kind == "file"


def test_names_defined_inside_the_region_do_not_widen() -> None:
    in_main = offset_of_row(PY, 37, 4)
    region = choose_region(PY, "python", cursor=in_main, instruction="make `main` print twice")
    assert (region.kind, region.name) == ("function", "main")


def test_no_cursor_names_a_definition() -> None:
    region = choose_region(PY, "python", instruction="make `doubled` return a float")
    assert (region.kind, region.name, rows_of(PY, region)) == ("method", "doubled", (24, 26))
    whole = choose_region(PY, "python", instruction="add logging")
    assert whole.kind == "file" and (whole.start, whole.end) == (0, len(PY))


def test_fallback_widens_on_file_words_only() -> None:
    text = "proc a {} {\n  puts 1\n}\n\nproc b {} {\n  puts 2\n}\n"
    plain = choose_region(text, "tcl", cursor=text.index("puts 2"))
    assert plain.kind == "lines" and rows_of(text, plain) == (4, 6)
    wide = choose_region(text, "tcl", cursor=text.index("puts 2"), instruction="import json")
    assert wide.kind == "file"


def test_hints() -> None:
    assert file_word("Add an import for re") == "import"
    assert file_word("Write a new function that sums") is not None
    assert file_word("Implement the function to find the sum") is None
    assert class_word("Create a factory method create_x") is not None
    assert class_word("Modify the method to return 0") is None
    names = mentioned_names("Call `parse_date` and fooBar() then use the result with Widget")
    assert {"parse_date", "fooBar", "Widget"} <= names
    assert "result" not in names and "the" not in names


def by_chars(text: str) -> int:
    return len(text)


def test_budget_shrinks_the_file_to_the_enclosing_top_level_definition() -> None:
    region = choose_region(
        PY, "python", cursor=IN_ADD, instruction="import os", budget=400, count_tokens=by_chars
    )
    assert (region.kind, region.name, rows_of(PY, region)) == ("class", "Counter", (15, 32))
    assert (
        "over the budget of 400" in region.reason and "shrunk to class `Counter`" in region.reason
    )


def test_budget_shrinks_further_to_the_method_then_statements_then_lines() -> None:
    method = choose_region(
        PY, "python", cursor=IN_ADD, instruction="import os", budget=200, count_tokens=by_chars
    )
    assert (method.kind, method.name) == ("method", "add")
    group = choose_region(PY, "python", cursor=IN_ADD, budget=100, count_tokens=by_chars)
    assert group.kind == "statements" and len(PY[group.start : group.end]) <= 100
    tiny = choose_region(PY, "python", cursor=IN_ADD, budget=40, count_tokens=by_chars)
    assert tiny.kind in ("statements", "lines") and len(PY[tiny.start : tiny.end]) <= 40
    assert tiny.start <= IN_ADD < tiny.end


@pytest.mark.parametrize("budget", [5, 30, 120, 400, 1000])
@pytest.mark.parametrize("fixture", ["sample.py", "sample.java", "sample.cpp", "sample.go"])
def test_region_always_fits(fixture: str, budget: int) -> None:
    from diffcoder.editing.languages import language_for_path

    text = load(fixture)
    for row in range(0, text.count("\n"), 3):
        cursor = offset_of_row(text, row)
        region = choose_region(
            text, language_for_path(fixture), cursor=cursor, budget=budget, count_tokens=by_chars
        )
        assert_whole_lines(text, region)
        size = region.end - region.start
        one_line = text[region.start : region.end].count("\n") <= 1
        assert size <= budget or one_line  # a single line longer than the budget stays whole


def test_no_cursor_and_file_over_budget_keeps_the_top() -> None:
    region = choose_region(PY, "python", budget=50, count_tokens=by_chars)
    assert region.start == 0 and region.end - region.start <= 50


def test_budget_defaults() -> None:
    assert DEFAULT_REGION_TOKENS > 0 and estimate_tokens("x" * 35) == 10
    with pytest.raises(ValueError, match="positive"):
        choose_region(PY, "python", budget=0)
