"""Lines of a text and conversions between Python `str` offsets and LSP positions (line, character).

Offsets are the project's one internal unit; LSP columns count UTF-16 code units by default, or
UTF-8 bytes / code points when negotiated (`positionEncoding`). Lines end at LF, CRLF or CR (the
LSP rule): `LineIndex` is the editing layer's one source of line starts, region rows included.
"""

from __future__ import annotations

import bisect
import re
from functools import cached_property
from typing import Literal, NamedTuple

PositionEncoding = Literal["utf-16", "utf-8", "utf-32"]
ENCODINGS: tuple[str, ...] = ("utf-16", "utf-8", "utf-32")

_LINE_END = re.compile(r"\r\n|\r|\n")


class Position(NamedTuple):
    line: int
    character: int


def _check_encoding(encoding: str) -> None:
    if encoding not in ENCODINGS:
        raise ValueError(
            f"unknown position encoding {encoding!r}; use one of {', '.join(ENCODINGS)} "
            "(the LSP PositionEncodingKind values)"
        )


def code_units(text: str, encoding: str = "utf-16") -> int:
    """Length of `text` in the encoding's units (UTF-16 code units, UTF-8 bytes, code points)."""
    if encoding == "utf-32" or text.isascii():
        return len(text)
    if encoding == "utf-16":
        # Each code point above U+FFFF is a surrogate pair: two units.
        return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)
    if encoding == "utf-8":
        # surrogatepass: a lone surrogate (from a sloppy client) still has a defined length.
        return len(text.encode("utf-8", "surrogatepass"))
    _check_encoding(encoding)
    raise AssertionError("unreachable")


def line_starts(text: str) -> list[int]:
    """Offsets where each line starts; a \\r\\n pair is one line end, a lone \\r is one too."""
    return [0, *(m.end() for m in _LINE_END.finditer(text))]


class LineIndex:
    """Precomputed line starts of one text, for many conversions against the same version."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = line_starts(text)

    @property
    def line_count(self) -> int:
        """Lines, counting the empty one after a final line end (as editors show it)."""
        return len(self.starts)

    @cached_property
    def lines(self) -> list[str]:
        """Each line's text with its line end; joined they give the text back."""
        ends = [*self.starts[1:], len(self.text)]
        return [self.text[start:end] for start, end in zip(self.starts, ends, strict=True)]

    def line_of(self, offset: int) -> int:
        """The line holding `offset` (clamped to the text); a line end belongs to its line."""
        return bisect.bisect_right(self.starts, min(max(offset, 0), len(self.text))) - 1

    def line_span(self, first: int, last: int) -> tuple[int, int]:
        """Offsets of whole lines first..last (inclusive), the last one's line end included."""
        end = self.starts[last + 1] if last + 1 < len(self.starts) else len(self.text)
        return self.starts[first], end

    def line_end(self, line: int) -> int:
        """Offset just before the line's terminator (the end of its content)."""
        if line + 1 >= len(self.starts):
            return len(self.text)
        end = self.starts[line + 1]
        if self.text[end - 1] == "\n":
            end -= 1
            if end > self.starts[line] and self.text[end - 1] == "\r":
                end -= 1
        else:
            end -= 1  # a lone \r
        return end

    def offset_to_position(self, offset: int, encoding: str = "utf-16") -> Position:
        _check_encoding(encoding)
        offset = min(max(offset, 0), len(self.text))
        line = self.line_of(offset)
        # An offset inside the line terminator (between \r and \n) is the end of the line.
        offset = min(offset, self.line_end(line))
        start = self.starts[line]
        return Position(line, code_units(self.text[start:offset], encoding))

    def position_to_offset(self, line: int, character: int, encoding: str = "utf-16") -> int:
        """Clamped as LSP says: a line past the end is the end of the text, a character past
        the line's length is the line's end; a column inside a character rounds down to it."""
        _check_encoding(encoding)
        if line < 0:
            return 0
        if line >= len(self.starts):
            return len(self.text)
        start, end = self.starts[line], self.line_end(line)
        character = max(character, 0)
        content = self.text[start:end]
        if encoding == "utf-32" or content.isascii():
            return start + min(character, len(content))
        units = 0
        for i, ch in enumerate(content):
            width = code_units(ch, encoding)
            if units + width > character:
                return start + i
            units += width
        return end


def offset_to_position(text: str, offset: int, encoding: str = "utf-16") -> Position:
    """The LSP position of a `str` offset (clamped to the text)."""
    return LineIndex(text).offset_to_position(offset, encoding)


def position_to_offset(text: str, line: int, character: int, encoding: str = "utf-16") -> int:
    """The `str` offset of an LSP position, clamped like LSP clients expect."""
    return LineIndex(text).position_to_offset(line, character, encoding)
