"""Where ghost text stops: at the end of the statement or block it is written in, as Copilot does.

A fill-in-the-middle model writes until its budget runs out, so an infill inside a function body
often runs on into the next function. `stop_ghost_text` cuts the model's middle by the setting
`inline.stopAt`:

- `"block"` (the default): the middle continues the block the cursor is in and stops where it
  leaves it. Two rules, the earlier cut wins:
  * indentation: the cursor's line, as completed, sets the depth. Lines at least that deep are
    the same block. A line that opens a block (ends with `:`, `{`, `(`, `[`) makes the lines
    deeper than it its body, and the body ends at the next line back at its depth, which is
    kept only when it continues the statement (`else`, `elif`, `except`, `finally`, `catch`,
    `} else {`) or only closes it (`}`, `});`: kept, then the middle stops). Any shallower line
    ends the block: it is dropped, except a line that only closes brackets, which is kept last.
  * syntax (tree-sitter, for the supported languages): the file is parsed with the middle in
    place, and the innermost construct that encloses the cursor's line and ends inside the middle
    (a function, a class, an `if`, a call…) ends it there (with its line end, when nothing
    follows on that line).
  So completing inside a function body keeps a multi-line completion of that body but never
  reaches the next function; a middle that starts a compound statement (`def`, `if … {`) ends
  with it; at the top level a `def` or `class` the middle starts is kept whole.
- `"line"`: up to the end of the first line that has code on it.
- `"none"`: no cut (the budget and the suffix overlap still apply).
"""

from __future__ import annotations

from typing import Literal, get_args

from diffcoder.editing.indentation import indent_width
from diffcoder.editing.parsing import ByteIndex, is_mostly_error, parse_text
from diffcoder.editing.positions import LineIndex

StopAt = Literal["block", "line", "none"]
STOP_AT: tuple[str, ...] = get_args(StopAt)
DEFAULT_STOP_AT: StopAt = "block"
OPENERS = (":", "{", "(", "[")
CLOSERS = ("}", ")", "]")
CONTINUATIONS = ("else", "elif", "except", "finally", "catch")
# The syntax rule parses the whole document on every infill: above this, indentation alone.
SYNTAX_LIMIT_CHARS = 500_000


def stop_ghost_text(
    text: str, cursor: int, middle: str, *, stop_at: StopAt, language: str | None = None
) -> str:
    """`middle` (to insert at `cursor` of `text`, LF newlines) cut where `stop_at` says."""
    if stop_at == "none" or not middle.strip():
        return middle
    head = text[text.rfind("\n", 0, cursor) + 1 : cursor]
    if stop_at == "line":
        return middle[: _first_code_line_end(middle)]
    cut = min(_indentation_cut(head, middle), _syntax_cut(text, cursor, middle, language))
    return middle[:cut]


def _first_code_line_end(middle: str) -> int:
    """The offset in `middle` just past the newline that ends its first line with code."""
    code = len(middle) - len(middle.lstrip())
    end = middle.find("\n", code)
    return len(middle) if end == -1 else end + 1


def _indentation_cut(head: str, middle: str) -> int:
    """Where the middle leaves the cursor's block, by indentation (see the module)."""
    lines = (head + middle).split("\n")
    offsets = [0]  # each line's start in `middle` (the first is the cursor)
    for line in lines[:-1]:
        offsets.append(offsets[-1] + len(line) + 1 - (len(head) if len(offsets) == 1 else 0))
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return len(middle)
    depth = indent_width(lines[first])
    opens = _opens(lines[first])
    for i in range(first + 1, len(lines)):
        line = lines[i]
        code = line.strip()
        if not code:
            continue
        width = indent_width(line)
        if width > depth or (width == depth and not opens):
            continue
        if width == depth and (code.startswith(CONTINUATIONS) or _closes(code) and _opens(code)):
            continue  # `else:`, `} else {`: the same statement goes on
        if _closes(code) and not _opens(code):
            return min(len(middle), offsets[i] + len(line) + 1)  # the closing line, then stop
        return max(offsets[i], 0)
    return len(middle)


def _opens(code: str) -> bool:
    return code.rstrip().endswith(OPENERS)


def _closes(code: str) -> bool:
    return code.lstrip().startswith(CLOSERS)


def _syntax_cut(text: str, cursor: int, middle: str, language: str | None) -> int:
    """Where the innermost construct around the cursor's line ends inside the middle."""
    if language is None or len(text) > SYNTAX_LIMIT_CHARS:
        return len(middle)
    full = text[:cursor] + middle + text[cursor:]
    tree = parse_text(full, language)
    if tree is None or is_mostly_error(tree):
        return len(middle)
    index = ByteIndex(LineIndex(full))
    line_start = full.rfind("\n", 0, cursor) + 1
    written = full[line_start : cursor + len(middle)]
    anchor = line_start + len(written) - len(written.lstrip())  # the line's (or middle's) code
    if anchor >= cursor + len(middle):
        return len(middle)
    low, high = index.byte(cursor), index.byte(cursor + len(middle))
    node = tree.root_node.descendant_for_byte_range(index.byte(anchor), index.byte(anchor) + 1)
    line_byte = index.byte(line_start)
    while node is not None:
        if node.start_byte < line_byte and low < node.end_byte < high and not node.is_error:
            end = _offset_of_byte(full, index, node.end_byte) - cursor
            newline = middle.find("\n", end)
            if newline != -1 and not middle[end:newline].strip():
                return newline + 1  # the construct ends its line: keep the line end
            return end
        node = node.parent
    return len(middle)


def _offset_of_byte(text: str, index: ByteIndex, byte: int) -> int:
    if index.is_ascii:
        return byte
    row = index.row_of_byte(byte)
    start = index.lines.starts[row]
    line = text[start : index.lines.starts[row + 1] if row + 1 < len(index.lines.starts) else None]
    encoded = line.encode("utf-8", "surrogatepass")[: byte - index.row_bytes[row]]
    return start + len(encoded.decode("utf-8", "surrogatepass"))
