"""Offset conversion at the tree-sitter edge; incremental reparsing that matches a fresh parse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tree_sitter import Node, Tree

from diffcoder.editing.parsing import (
    DocumentTree,
    TextIndex,
    error_share,
    is_mostly_error,
    node_rows,
    parse_text,
)

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = {
    "python": "sample.py",
    "javascript": "sample.js",
    "typescript": "sample.ts",
    "tsx": "sample.tsx",
    "go": "sample.go",
    "rust": "sample.rs",
    "java": "sample.java",
    "c": "sample.c",
    "cpp": "sample.cpp",
}
MIXED = "a = '日本語'\r\n\tb = \"😀 ok\"  # é\n\nc = 1"


def _sample(language: str) -> str:
    return (FIXTURES / SAMPLES[language]).read_bytes().decode("utf-8")


def _nodes(tree: Tree) -> list[tuple[object, ...]]:
    found: list[tuple[object, ...]] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        found.append((node.type, node.start_byte, node.end_byte, node.start_point, node.end_point))
        stack.extend(reversed(node.children))
    return found


@pytest.mark.parametrize("text", ["", "abc", "x\ny\n", MIXED, "😀\r\n😀", "\n\n\t日\n"])
def test_text_index_round_trips_every_offset(text: str) -> None:
    index = TextIndex(text)
    for offset in range(len(text) + 1):
        point = index.point(offset)
        assert index.byte(offset) == len(text[:offset].encode("utf-8"))
        assert point.row == text.count("\n", 0, offset)
        assert index.offset_at_point(point.row, point.column) == offset
        assert index.offset_at_byte(index.byte(offset)) == offset


def test_text_index_agrees_with_tree_sitter_on_non_ascii() -> None:
    tree = parse_text(MIXED, "python")
    assert tree is not None
    index = TextIndex(MIXED)
    strings = [n for n in _walk(tree.root_node) if n.type == "string"]
    spans = [MIXED[slice(*index.node_span(n))] for n in strings]
    assert spans == ["'日本語'", '"😀 ok"']


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from _walk(child)


def test_column_inside_a_character_rounds_down() -> None:
    index = TextIndex("a😀b")
    assert index.offset_at_point(0, 2) == 1  # byte 2 is inside the 4-byte emoji
    assert index.offset_at_point(0, 5) == 2


def test_lone_surrogate_does_not_raise() -> None:
    doc = DocumentTree("x = '\ud800'\n", "python")
    doc.apply_change(0, 1, "y")
    assert doc.text.startswith("y = ")


def test_node_rows_ignore_a_trailing_newline() -> None:
    tree = parse_text("#include <a.h>\nint x;\n", "c")
    assert tree is not None
    include = tree.root_node.children[0]
    assert include.end_point.column == 0  # the include node swallows its newline
    assert node_rows(include) == (0, 0)


def test_apply_change_keeps_the_tree_current() -> None:
    doc = DocumentTree("def f():\n    return 1\n", "python")
    doc.apply_change(13, 19, "yield")
    assert doc.text == "def f():\n    yield 1\n"
    assert "yield" in str(doc.tree.root_node)
    assert _nodes(doc.tree) == _nodes(parse_text(doc.text, "python"))


def test_apply_change_rejects_offsets_outside_the_text() -> None:
    doc = DocumentTree("abc", "python")
    with pytest.raises(ValueError, match="outside the document"):
        doc.apply_change(2, 9, "x")


def test_unknown_language_keeps_text_without_a_tree() -> None:
    doc = DocumentTree("hello\n", "cobol")
    doc.apply_change(0, 5, "bye")
    assert doc.text == "bye\n" and doc.tree is None and doc.mostly_error


def test_set_text_reparses() -> None:
    doc = DocumentTree("x = 1\n", "python")
    doc.set_text("def g(): pass\n")
    assert "function_definition" in str(doc.tree.root_node)


def test_error_share() -> None:
    clean = parse_text(_sample("python"), "python")
    assert clean is not None and error_share(clean) == 0.0 and not is_mostly_error(clean)
    garbage = parse_text("def (((( ]] }} :: ->\n" * 5, "python")
    assert garbage is not None and is_mostly_error(garbage)
    one_bad = parse_text(_sample("python") + "\ndef broken(a b c d):\n    pass\n", "python")
    assert one_bad is not None and 0.0 < error_share(one_bad) < 0.5


PIECES = ["x", " ", "\n", "\r\n", "\t", "(", ")", "{", "}", ":", ";", "'", "日本", "😀", "é"]
edit = st.tuples(
    st.floats(0, 1), st.integers(0, 8), st.lists(st.sampled_from(PIECES), max_size=4).map("".join)
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(language=st.sampled_from(sorted(SAMPLES)), edits=st.lists(edit, min_size=1, max_size=5))
def test_incremental_parse_matches_fresh_parse(
    language: str, edits: list[tuple[float, int, str]]
) -> None:
    doc = DocumentTree(_sample(language), language)
    for where, length, new_text in edits:
        start = int(where * len(doc.text))
        doc.apply_change(start, min(start + length, len(doc.text)), new_text)
    fresh = parse_text(doc.text, language)
    assert fresh is not None and doc.tree is not None
    assert doc.tree.root_node.end_byte == fresh.root_node.end_byte == len(doc.text.encode())
    assert doc.tree.root_node.has_error == fresh.root_node.has_error
    # Error recovery may legitimately differ between an incremental and a fresh parse; a clean
    # parse may not.
    if not fresh.root_node.has_error:
        assert _nodes(doc.tree) == _nodes(fresh)


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_incremental_rename_matches_fresh_parse(language: str) -> None:
    doc = DocumentTree(_sample(language), language)
    while (at := doc.text.find("helper")) >= 0:
        doc.apply_change(at, at + len("helper"), "ヘルパー_fn")
    fresh = parse_text(doc.text, language)
    assert fresh is not None
    assert _nodes(doc.tree) == _nodes(fresh)
