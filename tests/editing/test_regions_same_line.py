"""Definitions that share a line: the cursor's column picks the one it is in, and the reason names
that one (and the others on its line). Regions stay whole lines."""

from __future__ import annotations

import pytest

from diffcoder.editing.regions import choose_region

# (language, text with the cursor at `|`, the definition it is in, its kind)
FN, METHOD = "function", "method"
SAME_LINE = [
    ("javascript", "function a() { return 1 } function b() { |return 2 }\n", "b", FN),
    ("javascript", "function a() { |return 1 } function b() { return 2 }\n", "a", FN),
    ("javascript", "function a() { return 1 }; function |b() { return 2 }\n", "b", FN),
    ("javascript", "const a = () => 1, b = |() => 2;\n", "b", FN),
    ("javascript", "const a = |() => 1, b = () => 2;\n", "a", FN),
    ("javascript", "const a = () => 1; const b = () =>| 2;\n", "b", FN),
    ("javascript", "export function a() {} export function b() { |return 2 }\n", "b", FN),
    ("javascript", "class A { m() { return 1 } n() { |return 2 } }\n", "n", METHOD),
    ("javascript", "class A { m() { |return 1 } n() { return 2 } }\n", "m", METHOD),
    (
        "typescript",
        "function a(): number { return 1 } function b(): number { |return 2 }\n",
        "b",
        FN,
    ),
    ("typescript", "const f = (x: number) => x, g = (y: number) => |y * 2;\n", "g", FN),
    ("tsx", "const A = () => <a/>, B = () => |<b/>;\n", "B", FN),
    ("go", "package main\n\nfunc a() int { return 1 }; func b() int { |return 2 }\n", "b", FN),
    ("rust", "fn a() -> i32 { 1 } fn b() -> i32 { |2 }\n", "b", FN),
    ("c", "int a(void) { return 1; } int b(void) { |return 2; }\n", "b", FN),
    ("cpp", "struct S { int a() { return 1; } int b() { |return 2; } };\n", "b", METHOD),
    ("java", "class A { int a() { return 1; } int b() { |return 2; } }\n", "b", METHOD),
    (
        "java",
        "class A { int a() { return 1; } int b() { return 2; } int c() { |return 3; } }\n",
        "c",
        METHOD,
    ),
]


@pytest.mark.parametrize(("language", "marked", "name", "kind"), SAME_LINE)
def test_the_column_picks_the_definition(language, marked, name, kind):
    cursor = marked.index("|")
    text = marked.replace("|", "", 1)
    region = choose_region(text, language, cursor=cursor)
    assert (region.kind, region.name) == (kind, name), region.reason
    assert f"`{name}`" in region.reason.split(";")[0]  # named first, as where the cursor is
    others = {d for d in ("a", "b", "c", "m", "n", "f", "g", "A", "B") if d != name}
    shared = region.reason.split(";", 1)[1] if ";" in region.reason else ""
    assert "shares a line with it" in shared or "share a line with it" in shared
    assert any(f"`{other}`" in shared for other in others)
    # whole lines: the line both are on
    assert region.start == text.rfind("\n", 0, cursor) + 1 and text[region.end - 1] == "\n"


def test_the_enclosing_function_when_the_cursor_is_outside_the_inner_one():
    text = "function outer() { const x = 1; function inner() { return 2 } return x }\n"
    outer = choose_region(text, "javascript", cursor=text.index("const x"))
    assert outer.name == "outer" and "share" not in outer.reason
    inner = choose_region(text, "javascript", cursor=text.index("return 2"))
    assert inner.name == "inner"


def test_a_definition_ending_on_the_line_the_next_one_starts():
    text = "function a() {\n  return 1\n} function b() {\n  return 2\n}\n"
    b = choose_region(text, "javascript", cursor=text.index("function b"))
    assert b.name == "b" and text[b.start :].startswith("} function b")
    assert "function `a` shares a line with it" in b.reason
    a = choose_region(text, "javascript", cursor=text.index("} function b"))
    assert a.name == "a" and text[a.start :].startswith("function a")


@pytest.mark.parametrize(
    ("language", "text", "at", "name"),
    [
        # the indentation before a method and its decorator belong to it, not to the class
        ("python", "class C:\n    x = 1\n\n    def m(self):\n        return 1\n", "    def m", "m"),
        (
            "python",
            "class C:\n    @property\n    def m(self):\n        return 1\n",
            "    @prop",
            "m",
        ),
        ("javascript", "class A {\n  m() {\n    return 1\n  }\n}\n", "  m()", "m"),
        ("rust", "/// doc\nfn a() -> i32 {\n    1\n}\n", "/// doc", "a"),
        # one definition on a line: the column does not matter
        ("python", "def f(x):\n    return x + 1\n", "+ 1", "f"),
        ("go", "package main\n\nfunc f() int {\n\treturn 1\n}\n", "\treturn", "f"),
    ],
)
def test_one_definition_per_line_is_as_before(language, text, at, name):
    region = choose_region(text, language, cursor=text.index(at))
    assert region.name == name and "share" not in region.reason


def test_python_lambdas_on_one_line_are_statements_not_a_wrong_name():
    text = "import os\n\na = lambda: 1; b = lambda: 2\n"
    region = choose_region(text, "python", cursor=text.index("lambda: 2"))
    assert region.kind == "statements" and region.name is None
