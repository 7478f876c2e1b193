"""Selections widened to whole lines and complete statements; odd text (CRLF, tabs, emoji, CJK),
syntax errors and unknown languages never break region choice."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffcoder.editing.languages import language_for_path
from diffcoder.editing.positions import LineIndex
from diffcoder.editing.regions import choose_region
from tests.editing.test_regions import assert_whole_lines, load, offset_of_row, rows_of

PY = load("sample.py")


def select(text: str, start: tuple[int, int], end: tuple[int, int], language: str = "python"):
    return choose_region(
        text, language, selection=(offset_of_row(text, *start), offset_of_row(text, *end))
    )


@pytest.mark.parametrize(
    ("start", "end", "rows", "widened"),
    [
        ((11, 4), (12, 10), (11, 12), False),  # two whole statements stay as they are
        ((11, 6), (11, 9), (11, 11), False),  # inside one line: that line
        ((12, 0), (13, 0), (12, 12), False),  # ending at column 0 leaves the next line out
        ((29, 8), (30, 0), (29, 31), True),  # a `for` header alone takes the whole loop
        ((30, 12), (31, 5), (30, 31), False),  # the whole `if` is selected already
        ((28, 4), (29, 20), (28, 32), True),  # a `def` line and part of its body
        ((22, 5), (25, 3), (20, 26), True),  # across two methods: both, whole
        ((16, 0), (17, 0), (16, 16), False),  # a docstring line
        ((29, 10), (33, 0), (29, 32), False),  # ends after the method's last line
    ],
)
def test_python_selection(
    start: tuple[int, int], end: tuple[int, int], rows: tuple[int, int], widened: bool
) -> None:
    region = select(PY, start, end)
    assert region.kind == "selection"
    assert rows_of(PY, region) == rows
    assert ("complete statements" in region.reason) == widened
    assert_whole_lines(PY, region)


def test_reversed_and_empty_selection() -> None:
    forward = select(PY, (29, 8), (30, 0))
    backward = choose_region(
        PY, "python", selection=(offset_of_row(PY, 30), offset_of_row(PY, 29, 8))
    )
    assert (backward.start, backward.end) == (forward.start, forward.end)
    empty = choose_region(PY, "python", selection=(offset_of_row(PY, 11), offset_of_row(PY, 11)))
    assert empty.kind == "function" and empty.name == "helper"


def test_blank_line_selection_stays_put() -> None:
    region = select(PY, (13, 0), (15, 0))
    assert rows_of(PY, region) == (13, 14) and region.kind == "selection"


@pytest.mark.parametrize(
    ("fixture", "language", "start", "end", "rows"),
    [
        ("sample.js", "javascript", (20, 10), (21, 3), (20, 22)),  # if header → whole if
        ("sample.js", "javascript", (34, 20), (34, 30), (34, 34)),  # inside call arguments
        ("sample.ts", "typescript", (16, 0), (19, 0), (16, 18)),  # class members
        ("sample.go", "go", (24, 0), (25, 0), (24, 26)),  # go if header
        ("sample.rs", "rust", (22, 0), (23, 0), (22, 29)),  # fn signature → whole fn
        ("sample.java", "java", (13, 0), (14, 0), (11, 13)),  # closing brace → whole ctor
        ("sample.c", "c", (21, 0), (22, 0), (21, 23)),
        ("sample.cpp", "cpp", (19, 4), (21, 2), (19, 23)),  # part of a range-for
        ("sample.tsx", "tsx", (14, 0), (15, 0), (12, 16)),  # a JSX line → the return statement
    ],
)
def test_brace_language_selection(
    fixture: str,
    language: str,
    start: tuple[int, int],
    end: tuple[int, int],
    rows: tuple[int, int],
) -> None:
    text = load(fixture)
    region = select(text, start, end, language)
    assert rows_of(text, region) == rows
    assert_whole_lines(text, region)


def test_crlf_regions_end_after_the_line_break() -> None:
    text = PY.replace("\n", "\r\n")
    region = choose_region(text, "python", cursor=offset_of_row(text, 11, 4))
    assert region.kind == "function" and region.name == "helper"
    chunk = text[region.start : region.end]
    assert chunk.startswith("def helper(value):\r\n") and chunk.endswith("return doubled\r\n")
    selection = select(text, (29, 8), (30, 0))
    assert text[selection.start : selection.end].endswith("self.step\r\n")


FIXTURES = ["sample.c", "sample.cpp", "sample.go", "sample.java", "sample.js", "sample.py"]
FIXTURES += ["sample.rs", "sample.ts", "sample.tsx"]


def lone_cr(text: str) -> str:
    return text.replace("\n", "\r")  # same length, so offsets into the LF text still hold


@pytest.mark.parametrize("fixture", ["sample.js", "sample.ts", "sample.tsx"])
def test_a_lone_cr_file_gets_the_regions_of_its_lf_twin(fixture: str) -> None:
    # These grammars end a line (and a `//` comment) at a lone CR too, so only the line rule could
    # tell the twins apart, and it must not: a lone CR ends a line, as in the editor.
    text, language = load(fixture), language_for_path(fixture)
    rows = range(text.count("\n"))
    twin = [choose_region(lone_cr(text), language, cursor=offset_of_row(text, r)) for r in rows]
    assert twin == [choose_region(text, language, cursor=offset_of_row(text, r)) for r in rows]
    assert {region.kind for region in twin} >= {"function", "method", "class"}


@pytest.mark.parametrize("fixture", FIXTURES)
def test_the_line_fallback_reads_a_lone_cr_as_a_line_end(fixture: str) -> None:
    text = load(fixture)
    rows = range(text.count("\n"))
    twin = [choose_region(lone_cr(text), None, cursor=offset_of_row(text, r)) for r in rows]
    assert twin == [choose_region(text, None, cursor=offset_of_row(text, r)) for r in rows]
    assert len({(region.start, region.end) for region in twin}) > 1  # not one whole-file region


@pytest.mark.parametrize("fixture", FIXTURES)
def test_lone_cr_regions_are_whole_lines(fixture: str) -> None:
    # Whatever a grammar makes of a lone CR, the region is whole lines of the editor's text.
    text = lone_cr(load(fixture))
    starts = LineIndex(text).starts
    regions = [
        choose_region(text, language_for_path(fixture), cursor=cursor)
        for cursor in range(0, len(text), 23)
    ]
    assert regions and all(r.start in starts for r in regions)
    assert all(r.end in starts or r.end == len(text) for r in regions)


def test_mixed_line_ends_each_end_a_line() -> None:
    text = "a = 1;\rb = 2;\r\n\r\nc = 3;\nd = 4;\r"
    region = choose_region(text, None, cursor=text.index("c"))
    assert text[region.start : region.end] == "c = 3;\nd = 4;\r"
    assert "(lines 4-5)" in region.reason
    b = text.index("b")
    selection = choose_region(text, "javascript", selection=(b, b + 1))
    assert text[selection.start : selection.end] == "b = 2;\r\n"
    assert "(line 2)" in selection.reason


UNICODE = (
    "# 日本語のコメント 😀\n"
    "名前 = '値 😀'\n"
    "\n"
    "def greet(name):\n"
    "\tmessage = f'こんにちは {name} 🎉'\n"
    "\treturn message\n"
    "\n"
    "def wave():\n"
    "\treturn '👋'  # é\n"
)


def test_emoji_cjk_and_tabs() -> None:
    region = choose_region(UNICODE, "python", cursor=UNICODE.index("こんにちは"))
    assert region.kind == "function" and region.name == "greet"
    assert UNICODE[region.start : region.end] == (
        "def greet(name):\n\tmessage = f'こんにちは {name} 🎉'\n\treturn message\n"
    )
    selection = choose_region(
        UNICODE, "python", selection=(UNICODE.index("'👋'"), UNICODE.index("# é"))
    )
    assert UNICODE[selection.start : selection.end] == "\treturn '👋'  # é\n"
    top = choose_region(UNICODE, "python", cursor=UNICODE.index("値"))
    assert UNICODE[top.start : top.end] == "# 日本語のコメント 😀\n名前 = '値 😀'\n"


def test_syntax_error_elsewhere_keeps_scoping() -> None:
    text = PY + "\ndef broken(a b c):\n    return (\n"
    region = choose_region(text, "python", cursor=offset_of_row(text, 11))
    assert region.kind == "function" and region.name == "helper"


def test_mostly_errors_falls_back_to_indentation() -> None:
    text = "fn (( {{\n  ]] :: ->\n  ?? ;;\n\n}} (( fn\n  << >>\n"
    region = choose_region(text, "rust", cursor=offset_of_row(text, 1))
    assert region.kind == "lines" and "mostly errors" in region.reason
    assert rows_of(text, region) == (0, 4)  # `}}` closes the block


def test_unknown_language_indent_block() -> None:
    ruby = (
        "class Greeter\n  def hi\n    puts 'hi'\n  end\n\n  def bye\n    puts 'bye'\n  end\nend\n"
    )
    region = choose_region(ruby, "ruby", cursor=ruby.index("puts 'bye'"))
    assert region.kind == "lines" and rows_of(ruby, region) == (5, 7)
    whole = choose_region(ruby, "ruby", cursor=ruby.index("Greeter"))
    assert rows_of(ruby, whole) == (0, 8)
    lines = choose_region(ruby, None, selection=(ruby.index("hi\n"), ruby.index("'hi'")))
    assert lines.kind == "selection" and rows_of(ruby, lines) == (1, 2)


@pytest.mark.parametrize("text", ["", "\n\n", "   \n\t\n"])
def test_blank_documents(text: str) -> None:
    region = choose_region(text, "python", cursor=0)
    assert (region.start, region.end, region.kind) == (0, len(text), "file")


def test_offsets_outside_the_text_are_clamped() -> None:
    region = choose_region(PY, "python", cursor=len(PY) + 50)
    assert_whole_lines(PY, region)
    assert choose_region(PY, "python", cursor=-3).start == 0


def test_text_without_final_newline() -> None:
    text = "def f():\n    return 1"
    region = choose_region(text, "python", cursor=len(text))
    assert (region.start, region.end, region.kind) == (0, len(text), "function")


@settings(max_examples=60, deadline=None)
@given(
    fixture=st.sampled_from(["sample.py", "sample.js", "sample.go", "sample.cpp"]),
    cut=st.floats(0, 1),
    junk=st.sampled_from(["", "(((", "}", "\n\t\t", "😀日本", "def", "\r\n", "'"]),
    a=st.floats(0, 1),
    b=st.floats(0, 1),
)
def test_never_raises_and_holds_the_selection(
    fixture: str, cut: float, junk: str, a: float, b: float
) -> None:
    from diffcoder.editing.languages import language_for_path

    base = load(fixture)
    at = int(cut * len(base))
    text = base[:at] + junk + base[at:]
    start, end = sorted((int(a * len(text)), int(b * len(text))))
    region = choose_region(text, language_for_path(fixture), selection=(start, end))
    assert_whole_lines(text, region)
    if start < end:  # an empty selection is a cursor, which may pick the group beside a blank
        assert region.start <= start and (end <= region.end or not text[region.end : end].strip())
