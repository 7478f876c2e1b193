"""Cursor scoping on one fixture per language: function, method, class, top-level statements."""

from __future__ import annotations

from pathlib import Path

import pytest

from diffcoder.editing.languages import language_for_path
from diffcoder.editing.regions import Region, choose_region

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> str:
    # Bytes, then decode: keeps `\r\n` and every offset exactly as on disk.
    return (FIXTURES / name).read_bytes().decode("utf-8")


def offset_of_row(text: str, row: int, column: int = 0) -> int:
    lines = text.split("\n")
    return sum(len(line) + 1 for line in lines[:row]) + column


def rows_of(text: str, region: Region) -> tuple[int, int]:
    first = text.count("\n", 0, region.start)
    return first, first + text.count("\n", region.start, max(region.start, region.end - 1))


def assert_whole_lines(text: str, region: Region) -> None:
    assert 0 <= region.start <= region.end <= len(text)
    assert region.start == 0 or text[region.start - 1] == "\n"
    assert region.end == len(text) or text[region.end - 1] == "\n"


# (fixture, cursor row, kind, name, first row, last row): rows are 0-based.
CASES = [
    ("sample.py", 0, "statements", None, 0, 0),
    ("sample.py", 3, "file", None, 0, 41),
    ("sample.py", 5, "statements", None, 5, 6),
    ("sample.py", 8, "statements", None, 9, 12),
    ("sample.py", 10, "function", "helper", 9, 12),
    ("sample.py", 11, "function", "helper", 9, 12),
    ("sample.py", 15, "class", "Counter", 15, 32),
    ("sample.py", 18, "class", "Counter", 15, 32),
    ("sample.py", 23, "class", "Counter", 15, 32),
    ("sample.py", 22, "method", "__init__", 20, 22),
    ("sample.py", 24, "method", "doubled", 24, 26),
    ("sample.py", 31, "method", "add", 28, 32),
    ("sample.py", 36, "function", "main", 35, 37),
    ("sample.py", 41, "statements", None, 40, 41),
    ("sample.js", 1, "file", None, 0, 37),
    ("sample.js", 4, "statements", None, 4, 4),
    ("sample.js", 8, "function", "helper", 6, 10),
    ("sample.js", 12, "class", "Counter", 12, 26),
    ("sample.js", 17, "class", "Counter", 12, 26),
    ("sample.js", 15, "method", "constructor", 13, 16),
    ("sample.js", 22, "method", "add", 18, 25),
    ("sample.js", 29, "function", "triple", 28, 30),
    ("sample.js", 33, "function", "main", 32, 35),
    ("sample.js", 37, "statements", None, 37, 37),
    ("sample.ts", 1, "file", None, 0, 38),
    ("sample.ts", 3, "statements", None, 3, 3),
    ("sample.ts", 6, "class", "Shape", 5, 7),
    ("sample.ts", 11, "function", "helper", 9, 13),
    ("sample.ts", 16, "class", "Counter", 15, 32),
    ("sample.ts", 21, "method", "area", 20, 22),
    ("sample.ts", 27, "method", "add", 24, 31),
    ("sample.ts", 35, "function", "triple", 34, 36),
    ("sample.ts", 38, "statements", None, 38, 38),
    ("sample.tsx", 3, "statements", None, 3, 3),
    ("sample.tsx", 6, "function", "helper", 5, 8),
    ("sample.tsx", 14, "function", "Greeting", 10, 17),
    ("sample.tsx", 19, "class", "Panel", 19, 23),
    ("sample.tsx", 21, "method", "render", 20, 22),
    ("sample.tsx", 25, "statements", None, 25, 25),
    ("sample.go", 4, "file", None, 0, 34),
    ("sample.go", 8, "statements", None, 8, 8),
    ("sample.go", 12, "class", "Counter", 10, 14),
    ("sample.go", 18, "function", "helper", 16, 20),
    ("sample.go", 24, "method", "Add", 22, 29),
    ("sample.go", 33, "function", "Main", 31, 34),
    ("sample.rs", 1, "file", None, 0, 37),
    ("sample.rs", 3, "statements", None, 3, 3),
    ("sample.rs", 7, "function", "helper", 5, 9),
    ("sample.rs", 13, "class", "Counter", 11, 15),
    ("sample.rs", 21, "class", "Counter", 17, 30),
    ("sample.rs", 19, "method", "new", 18, 20),
    ("sample.rs", 25, "method", "add", 22, 29),
    ("sample.rs", 34, "function", "main", 32, 37),
    ("sample.java", 3, "file", None, 0, 34),
    ("sample.java", 8, "class", "Counter", 6, 34),
    ("sample.java", 12, "method", "Counter", 11, 13),
    ("sample.java", 17, "method", "helper", 15, 19),
    ("sample.java", 22, "method", "toString", 21, 24),
    ("sample.java", 29, "method", "add", 26, 33),
    ("sample.c", 1, "file", None, 0, 34),
    ("sample.c", 4, "statements", None, 4, 4),
    ("sample.c", 7, "class", "counter", 6, 9),
    ("sample.c", 14, "function", "helper", 11, 16),
    ("sample.c", 22, "function", "counter_add", 18, 26),
    ("sample.c", 32, "function", "main", 28, 34),
    ("sample.cpp", 1, "file", None, 0, 43),
    ("sample.cpp", 6, "statements", None, 6, 6),
    ("sample.cpp", 10, "function", "helper", 8, 12),
    ("sample.cpp", 17, "class", "Counter", 14, 30),
    ("sample.cpp", 22, "method", "add", 18, 25),
    ("sample.cpp", 33, "function", "twice", 32, 35),
    ("sample.cpp", 41, "function", "main", 39, 43),
]


@pytest.mark.parametrize(("fixture", "row", "kind", "name", "first", "last"), CASES)
def test_cursor_scope(
    fixture: str, row: int, kind: str, name: str | None, first: int, last: int
) -> None:
    text = load(fixture)
    line = text.split("\n")[row]
    cursor = offset_of_row(text, row, len(line) - len(line.lstrip()))
    region = choose_region(text, language_for_path(fixture), cursor=cursor)
    assert (region.kind, region.name, rows_of(text, region)) == (kind, name, (first, last))
    assert_whole_lines(text, region)
    assert region.reason.endswith(".") and len(region.reason) > 20


@pytest.mark.parametrize("fixture", sorted({case[0] for case in CASES}))
def test_every_row_gives_a_whole_line_region_holding_the_cursor(fixture: str) -> None:
    text = load(fixture)
    for row in range(text.count("\n")):
        region = choose_region(text, language_for_path(fixture), cursor=offset_of_row(text, row))
        assert_whole_lines(text, region)
        first, last = rows_of(text, region)
        assert first <= row <= last or not text.split("\n")[row].strip()


@pytest.mark.parametrize("fixture", sorted({case[0] for case in CASES}))
def test_language_id_and_no_language(fixture: str) -> None:
    text = load(fixture)
    by_path = choose_region(text, language_for_path(fixture), cursor=len(text) // 2)
    fallback = choose_region(text, None, cursor=len(text) // 2)
    assert by_path.kind != "lines"
    assert fallback.kind == "lines" and "no tree-sitter grammar" in fallback.reason
    assert_whole_lines(text, fallback)
