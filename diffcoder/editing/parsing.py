"""Tree-sitter parsing with Python `str` offsets: offset ↔ byte/point conversion, incremental trees.

Tree-sitter speaks UTF-8 bytes and (row, byte column) points; everything else here speaks `str`
offsets, so conversion happens only in `TextIndex`.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate

from tree_sitter import Node, Point, Tree

from diffcoder.editing.languages import get_parser, resolve_language

# A parse whose ERROR nodes cover more than this share of the file is not worth scoping with.
MOSTLY_ERROR_SHARE = 0.5


def _utf8_width(char: str) -> int:
    code = ord(char)
    # Lone surrogates are encoded with "surrogatepass" (3 bytes) so odd editor text never raises.
    return 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


class TextIndex:
    """Converts between `str` offsets and tree-sitter byte offsets / points for one text.

    Rows count `\\n` only (as tree-sitter does), so a `\\r` before it is part of the line.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        lines = text.split("\n")
        self.line_starts = [0, *accumulate(len(line) + 1 for line in lines[:-1])]
        self.is_ascii = text.isascii()
        self._lines = lines
        if self.is_ascii:
            self.byte_line_starts = self.line_starts
        else:
            byte_lengths = (sum(map(_utf8_width, line)) + 1 for line in lines[:-1])
            self.byte_line_starts = [0, *accumulate(byte_lengths)]
        # Cumulative byte widths per non-ASCII line, built on first use.
        self._columns: dict[int, list[int]] = {}

    @property
    def line_count(self) -> int:
        return len(self.line_starts)

    def row_of(self, offset: int) -> int:
        return bisect_right(self.line_starts, offset) - 1

    def _byte_columns(self, row: int) -> list[int]:
        columns = self._columns.get(row)
        if columns is None:
            columns = [0, *accumulate(map(_utf8_width, self._lines[row]))]
            self._columns[row] = columns
        return columns

    def point(self, offset: int) -> Point:
        row = self.row_of(offset)
        column = offset - self.line_starts[row]
        if not self.is_ascii:
            column = self._byte_columns(row)[column]
        return Point(row, column)

    def byte(self, offset: int) -> int:
        row, column = self.point(offset)
        return self.byte_line_starts[row] + column

    def offset_at_point(self, row: int, byte_column: int) -> int:
        """`str` offset of a tree-sitter point; a column inside a character rounds down."""
        row = min(max(row, 0), self.line_count - 1)
        if self.is_ascii:
            column = min(byte_column, len(self._lines[row]))
        else:
            column = bisect_right(self._byte_columns(row), byte_column) - 1
        return self.line_starts[row] + column

    def offset_at_byte(self, byte: int) -> int:
        row = bisect_right(self.byte_line_starts, byte) - 1
        return self.offset_at_point(row, byte - self.byte_line_starts[row])

    def node_span(self, node: Node) -> tuple[int, int]:
        """The node's (start, end) in `str` offsets."""
        start, end = node.start_point, node.end_point
        return self.offset_at_point(start.row, start.column), self.offset_at_point(
            end.row, end.column
        )

    def line_span(self, first_row: int, last_row: int) -> tuple[int, int]:
        """Whole lines first_row..last_row (inclusive) with the final newline, in `str` offsets."""
        start = self.line_starts[first_row]
        end = self.line_starts[last_row + 1] if last_row + 1 < self.line_count else len(self.text)
        return start, end


def node_rows(node: Node) -> tuple[int, int]:
    """First and last row a node has text on (a node ending at column 0 stops the row before)."""
    start, end = node.start_point, node.end_point
    last = end.row - 1 if end.column == 0 and end.row > start.row else end.row
    return start.row, last


def parse_text(text: str, language: str | None, old_tree: Tree | None = None) -> Tree | None:
    """Parse `text` with the language's grammar; None for an unsupported language."""
    parser = get_parser(language) if language else None
    if parser is None:
        return None
    # tree-sitter 0.26 rejects an explicit `old_tree=None`, so the argument is passed only when set.
    if old_tree is None:
        return parser.parse(encode(text))
    return parser.parse(encode(text), old_tree)


def error_share(tree: Tree) -> float:
    """Share of the text covered by outermost ERROR nodes, in [0, 1].

    Recovery may wrap a whole file in one ERROR root for a single unclosed bracket at the end;
    such a root is judged by its children (tokens directly under it count as broken).
    """
    root = tree.root_node
    total = root.end_byte - root.start_byte
    if total <= 0 or not root.has_error:
        return 0.0
    broken = 0
    stack = [root]
    if root.is_error:
        stack = [child for child in root.children if child.child_count]
        broken = sum(c.end_byte - c.start_byte for c in root.children if not c.child_count)
    while stack:
        node = stack.pop()
        if node.is_error:
            broken += node.end_byte - node.start_byte
        elif node.has_error:
            stack.extend(node.children)
    return min(broken / total, 1.0)


def is_mostly_error(tree: Tree) -> bool:
    return error_share(tree) > MOSTLY_ERROR_SHARE


class DocumentTree:
    """One document's text and tree, kept current across edits by incremental reparsing."""

    def __init__(self, text: str, language: str | None) -> None:
        self.language = resolve_language(language)
        self.text = text
        self.index = TextIndex(text)
        self.tree = parse_text(text, self.language)

    def set_text(self, text: str) -> None:
        """Replace the whole text (a full-document sync) and parse from scratch."""
        self.text = text
        self.index = TextIndex(text)
        self.tree = parse_text(text, self.language)

    def apply_change(self, start: int, end: int, new_text: str) -> None:
        """Replace text[start:end] (`str` offsets) by new_text and reparse incrementally."""
        if not 0 <= start <= end <= len(self.text):
            raise ValueError(
                f"change {start}:{end} is outside the document (0:{len(self.text)}); "
                "resynchronise the document with a full-text change"
            )
        old_index = self.index
        text = self.text[:start] + new_text + self.text[end:]
        index = TextIndex(text)
        if self.tree is not None:
            new_end = start + len(new_text)
            self.tree.edit(
                start_byte=old_index.byte(start),
                old_end_byte=old_index.byte(end),
                new_end_byte=index.byte(new_end),
                start_point=old_index.point(start),
                old_end_point=old_index.point(end),
                new_end_point=index.point(new_end),
            )
            self.tree = parse_text(text, self.language, old_tree=self.tree)
        self.text = text
        self.index = index

    @property
    def mostly_error(self) -> bool:
        return self.tree is None or is_mostly_error(self.tree)
