"""Tree-sitter parsing, and the byte offsets tree-sitter speaks converted to the lines we use.

Everything outside this module speaks `str` offsets and the rows of `positions.LineIndex` (lines end
at LF, CRLF or CR); tree-sitter's UTF-8 byte offsets are converted here, by `ByteIndex`.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate

from tree_sitter import Node, Tree

from diffcoder.editing.languages import get_parser
from diffcoder.editing.positions import LineIndex

# A parse whose ERROR nodes cover more than this share of the file is not worth scoping with.
MOSTLY_ERROR_SHARE = 0.5


def _utf8(text: str) -> bytes:
    # Lone surrogates are encoded with "surrogatepass" (3 bytes) so odd editor text never raises.
    return text.encode("utf-8", "surrogatepass")


class ByteIndex:
    """Tree-sitter byte offsets of one text, against the rows of its `LineIndex`.

    Rows come from the line index only, never from tree-sitter's points (which count `\\n` alone),
    so a region's rows mean the same lines an editor shows.
    """

    def __init__(self, lines: LineIndex) -> None:
        self.lines = lines
        self.is_ascii = lines.text.isascii()
        if self.is_ascii:
            self.row_bytes = lines.starts
        else:
            lengths = (len(_utf8(line)) for line in lines.lines[:-1])
            self.row_bytes = [0, *accumulate(lengths)]

    def byte(self, offset: int) -> int:
        """The UTF-8 byte offset of a `str` offset."""
        if self.is_ascii:
            return offset
        row = self.lines.line_of(offset)
        return self.row_bytes[row] + len(_utf8(self.lines.text[self.lines.starts[row] : offset]))

    def row_of_byte(self, byte: int) -> int:
        return bisect_right(self.row_bytes, byte) - 1

    def node_rows(self, node: Node) -> tuple[int, int]:
        """First and last row a node has text on (a node ending at a row's start, having taken
        the line end before it, stops the row before)."""
        first, last = self.row_of_byte(node.start_byte), self.row_of_byte(node.end_byte)
        if last > first and node.end_byte == self.row_bytes[last]:
            last -= 1
        return first, last


def parse_text(text: str, language: str | None) -> Tree | None:
    """Parse `text` with the language's grammar; None for an unsupported language."""
    parser = get_parser(language) if language else None
    return None if parser is None else parser.parse(_utf8(text))


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
