"""Where ghost text stops (`inline.stopAt`, editing/ghost_stop.py), on real tree-sitter parses:
inside a function body a completion keeps the body's lines but never reaches the next function."""

from __future__ import annotations

import pytest

from diffcoder.editing.ghost_stop import STOP_AT, stop_ghost_text
from diffcoder.editing.infill_pipeline import trim_middle

PYTHON = "def area(w, h):\n    size = w * h\n    \n\ndef perimeter(w, h):\n    return 2 * (w + h)\n"
IN_BODY = PYTHON.index("    \n\ndef perimeter") + 4  # an indented blank line in area's body
RUNS_ON = "size += 1\n    return size\ndef volume(w, h, d):\n    return w * h * d\n"


@pytest.mark.parametrize("language", ["python", None])  # tree-sitter, and indentation alone
def test_block_keeps_the_body_and_stops_before_the_next_function(language):
    kept = stop_ghost_text(PYTHON, IN_BODY, RUNS_ON, stop_at="block", language=language)
    assert kept == "size += 1\n    return size\n"


def test_block_stops_where_tree_sitter_ends_the_construct():
    # the call opened on an earlier line ends inside the middle; indentation alone sees the
    # next line at the same depth and keeps it
    text = "total = add(\n    1,\n    "
    middle = "2)\n    extra = 3\n"
    kept = stop_ghost_text(text, len(text), middle, stop_at="block", language="python")
    assert kept == "2)\n"
    assert stop_ghost_text(text, len(text), middle, stop_at="block") == middle


def test_line_and_none():
    assert stop_ghost_text(PYTHON, IN_BODY, RUNS_ON, stop_at="line") == "size += 1\n"
    assert stop_ghost_text(PYTHON, IN_BODY, RUNS_ON, stop_at="none") == RUNS_ON
    # at the end of a line of code, "line" means the next line that has code
    head_end = PYTHON.index("\n")
    middle = "\n    return w * h\n    print()\n"
    assert stop_ghost_text(PYTHON, head_end, middle, stop_at="line") == "\n    return w * h\n"
    assert set(STOP_AT) == {"block", "line", "none"}


def test_a_header_keeps_its_body_and_continuations_then_stops():
    text = "def run(a):\n    \n"
    cursor = text.index("    \n") + 4
    middle = "if a:\n        go()\n    else:\n        stop()\n    log(a)\nprint(1)\n"
    kept = stop_ghost_text(text, cursor, middle, stop_at="block", language="python")
    assert kept == "if a:\n        go()\n    else:\n        stop()\n"


def test_at_the_top_level_a_new_function_is_kept_whole():
    middle = "def volume(w, h, d):\n    return w * h * d\nprint(volume(1, 2, 3))\n"
    kept = stop_ghost_text("", 0, middle, stop_at="block", language="python")
    assert kept == "def volume(w, h, d):\n    return w * h * d\n"


JS = "function area(w, h) {\n  const size = w * h;\n  \n}\n"
JS_BODY = JS.index("  \n}") + 2


def test_javascript_keeps_the_closing_brace_and_stops():
    middle = "return size;\n}\nfunction perimeter(w, h) {\n  return 2 * (w + h);\n}\n"
    kept = stop_ghost_text(JS, JS_BODY, middle, stop_at="block", language="javascript")
    assert kept == "return size;\n}\n"
    # the suffix already closes the function: the repeated brace goes too
    assert trim_middle(middle, JS[JS_BODY:], "  ", lambda m: kept) == "return size;\n"


def test_javascript_on_one_line_stops_where_the_function_ends():
    middle = "return size; } function perimeter(w, h) { return 2 * (w + h); }\n"
    kept = stop_ghost_text(JS, JS_BODY, middle, stop_at="block", language="javascript")
    assert kept == "return size; }"


def test_a_completion_inside_the_body_that_fits_is_untouched():
    text = "def f(x):\n    y = x\n    \n    return y\n"
    cursor = text.index("    \n    return") + 4
    middle = "y += 1\n    y *= 2\n"
    assert stop_ghost_text(text, cursor, middle, stop_at="block", language="python") == middle


def test_non_ascii_text_before_the_cursor():
    text = 'def f():\n    s = "😀数"\n    \n\ndef g():\n    pass\n'
    cursor = text.index("    \n\ndef g") + 4
    middle = "return s; x = 1\ndef h(): pass\n"
    assert stop_ghost_text(text, cursor, middle, stop_at="block", language="python") == (
        "return s; x = 1\n"
    )


def test_trim_middle_without_a_stop_keeps_the_blank_line_rule():
    assert trim_middle("x = 1\n\ny = 2\n", "") == "x = 1\n"
    stop = lambda m: m  # noqa: E731 - "none": the blank line does not stop it
    assert trim_middle("x = 1\n\ny = 2\n", "", "", stop) == "x = 1\n\ny = 2\n"
