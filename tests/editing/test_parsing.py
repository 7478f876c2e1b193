"""Byte offsets at the tree-sitter edge and node rows by the one line rule (LF, CRLF or CR)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tree_sitter import Node

from diffcoder.editing.parsing import ByteIndex, error_share, is_mostly_error, parse_text
from diffcoder.editing.positions import LineIndex

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


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from _walk(child)


@pytest.mark.parametrize(
    "text", ["", "abc", "x\ny\n", MIXED, "😀\r\n😀", "\n\n\t日\n", "a\r😀\rb", "x = '\ud800'"]
)
def test_byte_offsets_and_rows_of_every_offset(text: str) -> None:
    lines = LineIndex(text)
    index = ByteIndex(lines)
    for offset in range(len(text) + 1):
        byte = index.byte(offset)
        assert byte == len(text[:offset].encode("utf-8", "surrogatepass"))
        assert index.row_of_byte(byte) == lines.line_of(offset)


def test_byte_offsets_agree_with_tree_sitter_on_non_ascii() -> None:
    tree = parse_text(MIXED, "python")
    assert tree is not None
    index = ByteIndex(LineIndex(MIXED))
    strings = [(n.start_byte, n.end_byte) for n in _walk(tree.root_node) if n.type == "string"]
    expected = [
        (index.byte(MIXED.index(s)), index.byte(MIXED.index(s) + len(s)))
        for s in ("'日本語'", '"😀 ok"')
    ]
    assert strings == expected


def test_lone_surrogate_does_not_raise() -> None:
    text = "x = '\ud800'\n"
    tree = parse_text(text, "python")
    assert tree is not None and tree.root_node.end_byte == len(text) + 2  # 3 bytes for 1 char
    assert ByteIndex(LineIndex(text)).byte(len(text)) == tree.root_node.end_byte


def test_node_rows_ignore_a_trailing_newline() -> None:
    text = "#include <a.h>\nint x;\n"
    tree = parse_text(text, "c")
    assert tree is not None
    include = tree.root_node.children[0]
    assert include.end_point.column == 0  # the include node swallows its newline
    assert ByteIndex(LineIndex(text)).node_rows(include) == (0, 0)


def _tree_sitter_rows(node: Node) -> tuple[int, int]:
    start, end = node.start_point, node.end_point
    return start.row, end.row - 1 if end.column == 0 and end.row > start.row else end.row


@pytest.mark.parametrize("language", sorted(SAMPLES))
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_node_rows_match_tree_sitter_rows_with_lf_and_crlf(language: str, newline: str) -> None:
    text = _sample(language).replace("\n", newline) + "\n😀 日本 é\n"
    tree = parse_text(text, language)
    assert tree is not None
    index = ByteIndex(LineIndex(text))
    nodes = list(_walk(tree.root_node))
    assert len(nodes) > 50
    assert [index.node_rows(n) for n in nodes] == [_tree_sitter_rows(n) for n in nodes]


def test_a_lone_cr_ends_a_row_although_tree_sitter_counts_only_lf() -> None:
    text = "int a;\rint b;\r\rint c;\n"
    tree = parse_text(text, "c")
    assert tree is not None
    declarations = [n for n in tree.root_node.children if n.type == "declaration"]
    assert [n.start_point.row for n in declarations] == [0, 0, 0]
    rows = [ByteIndex(LineIndex(text)).node_rows(n) for n in declarations]
    assert rows == [(0, 0), (1, 1), (3, 3)]


def test_error_share() -> None:
    clean = parse_text(_sample("python"), "python")
    assert clean is not None and error_share(clean) == 0.0 and not is_mostly_error(clean)
    garbage = parse_text("def (((( ]] }} :: ->\n" * 5, "python")
    assert garbage is not None and is_mostly_error(garbage)
    one_bad = parse_text(_sample("python") + "\ndef broken(a b c d):\n    pass\n", "python")
    assert one_bad is not None and 0.0 < error_share(one_bad) < 0.5
