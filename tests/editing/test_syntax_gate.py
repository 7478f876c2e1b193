"""The syntax gate: ERROR/MISSING counts, and rejecting region rewrites that add problems."""

from __future__ import annotations

import pytest

from diffcoder.editing.syntax_gate import adds_syntax_errors, dedent_region, syntax_problems
from tests.editing.test_parsing import SAMPLES, _sample

METHOD = (
    "    def add(self, items):\n"
    "        for item in items:\n"
    "            self.total += item\n"
    "        return self.total\n"
)


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_fixtures_are_clean(language: str) -> None:
    assert syntax_problems(_sample(language), language) == 0


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("def f(:\n    pass\n", "python"),
        ("x = (1 +\n", "python"),
        ("function f( { return 1; }\n", "javascript"),
        ("fn main() { let x = ; }\n", "rust"),
        ("int main() { return 0 }\n", "c"),
        ("class A { void m() { int x = 1 } }\n", "java"),
    ],
)
def test_broken_code_has_problems(text: str, language: str) -> None:
    assert syntax_problems(text, language) > 0


def test_unknown_language_never_counts_or_rejects() -> None:
    assert syntax_problems("{{{ (((", "cobol") == 0
    assert not adds_syntax_errors("ok", "{{{ (((", None)


def test_indented_method_region() -> None:
    better = METHOD.replace("for item in items:", "for item in sorted(items):")
    broken = METHOD.replace("for item in items:", "for item in items")
    assert not adds_syntax_errors(METHOD, better, "python")
    assert adds_syntax_errors(METHOD, broken, "python")


def test_fixing_or_keeping_errors_is_allowed() -> None:
    broken = "def f(:\n    return 1\n"
    assert not adds_syntax_errors(broken, "def f():\n    return 1\n", "python")
    assert not adds_syntax_errors(broken, broken.replace("1", "2"), "python")


def test_in_place_with_document_context() -> None:
    text = _sample("java")
    start = text.index("    static int helper")
    end = text.index("    @Override")
    region = text[start:end]
    good = region.replace("value * 2", "value << 1")
    bad = region.replace("value * 2;", "value * ;")
    before, after = text[:start], text[end:]
    assert not adds_syntax_errors(region, good, "java", prefix=before, suffix=after)
    assert adds_syntax_errors(region, bad, "java", prefix=before, suffix=after)
    assert adds_syntax_errors(region, bad, "java")  # dedented on its own works here too


def test_brace_region_with_crlf_and_tabs() -> None:
    region = "\tif x > 0 {\r\n\t\tcount++\r\n\t}\r\n"
    assert not adds_syntax_errors(region, region.replace("count++", "count += 2"), "go")
    assert adds_syntax_errors(region, region.replace("\t}\r\n", ""), "go")


def test_dedent_region_keeps_relative_indentation() -> None:
    assert dedent_region(METHOD).startswith("def add(self, items):\n    for item")
    assert dedent_region("\tif a:\r\n\t\tb()\r\n\r\n") == "if a:\r\n\tb()\r\n\r\n"
    assert dedent_region("x\n  y\n") == "x\n  y\n"
    assert dedent_region("   \n") == "   \n"
