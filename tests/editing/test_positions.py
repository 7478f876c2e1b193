"""str offsets <-> LSP positions in utf-16, utf-8 and utf-32, with emoji, CJK and every line end."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from diffcoder.editing.positions import (
    LineIndex,
    Position,
    code_units,
    line_starts,
    offset_to_position,
    position_to_offset,
)

TEXT = "a😀b\r\n中文x\rzé\n\n"  # emoji (2 UTF-16 units, 4 bytes), CJK (3 bytes), CRLF, CR, LF

ALPHABET = st.sampled_from(["a", " ", "\t", "\n", "\r", "\r\n", "😀", "中", "é", "\u200d", "𝔸"])
TEXTS = st.lists(ALPHABET, max_size=30).map("".join)


def test_line_starts_for_each_line_end():
    assert line_starts("") == [0]
    assert line_starts("a\nb\r\nc\rd") == [0, 2, 5, 7]
    assert line_starts("\r\n\r\n") == [0, 2, 4]
    assert line_starts("\n\r") == [0, 1, 2]  # LF then a lone CR: two line ends


@pytest.mark.parametrize(
    ("offset", "utf16", "utf8", "utf32"),
    [
        (0, (0, 0), (0, 0), (0, 0)),
        (1, (0, 1), (0, 1), (0, 1)),
        (2, (0, 3), (0, 5), (0, 2)),  # after the emoji
        (3, (0, 4), (0, 6), (0, 3)),  # end of line 0, before \r\n
        (5, (1, 0), (1, 0), (1, 0)),
        (6, (1, 1), (1, 3), (1, 1)),
        (7, (1, 2), (1, 6), (1, 2)),
        (9, (2, 0), (2, 0), (2, 0)),  # after the lone \r
        (11, (2, 2), (2, 3), (2, 2)),
        (12, (3, 0), (3, 0), (3, 0)),
        (13, (4, 0), (4, 0), (4, 0)),
    ],
)
def test_offset_to_position_in_each_encoding(offset, utf16, utf8, utf32):
    for encoding, expected in (("utf-16", utf16), ("utf-8", utf8), ("utf-32", utf32)):
        assert offset_to_position(TEXT, offset, encoding) == Position(*expected)
        assert position_to_offset(TEXT, *expected, encoding) == offset


def test_default_encoding_is_utf16():
    assert offset_to_position(TEXT, 2) == Position(0, 3)
    assert position_to_offset(TEXT, 0, 3) == 2


def test_offset_between_cr_and_lf_is_the_end_of_the_line():
    assert offset_to_position(TEXT, 4) == Position(0, 4)


def test_out_of_range_positions_are_clamped():
    assert position_to_offset(TEXT, 0, 99) == 3  # past the line's end: the line's end
    assert position_to_offset(TEXT, 99, 0) == len(TEXT)  # past the last line: end of text
    assert position_to_offset(TEXT, -1, 5) == 0
    assert position_to_offset(TEXT, 1, -3) == 5
    assert offset_to_position(TEXT, -5) == Position(0, 0)
    assert offset_to_position(TEXT, 999) == offset_to_position(TEXT, len(TEXT))


def test_column_inside_a_character_rounds_down():
    assert position_to_offset(TEXT, 0, 2, "utf-16") == 1  # between the emoji's surrogates
    assert position_to_offset(TEXT, 1, 1, "utf-8") == 5  # inside 中's three bytes
    assert position_to_offset(TEXT, 1, 2, "utf-8") == 5


def test_unknown_encoding_is_a_clear_error():
    with pytest.raises(ValueError, match="utf-16"):
        offset_to_position(TEXT, 0, "utf16")
    with pytest.raises(ValueError, match="position encoding"):
        position_to_offset(TEXT, 0, 0, "latin-1")


def test_code_units():
    assert code_units("a😀中", "utf-16") == 4
    assert code_units("a😀中", "utf-8") == 8
    assert code_units("a😀中", "utf-32") == 3


def test_line_index_reuses_line_starts():
    index = LineIndex(TEXT)
    assert index.line_end(0) == 3 and index.line_end(1) == 8 and index.line_end(4) == len(TEXT)
    assert index.offset_to_position(7) == Position(1, 2)


@given(TEXTS, st.sampled_from(["utf-16", "utf-8", "utf-32"]), st.data())
def test_round_trip_for_every_offset(text, encoding, data):
    offset = data.draw(st.integers(0, len(text)))
    if offset and text[offset - 1 : offset + 1] == "\r\n":
        return  # between \r and \n there is no position; covered above
    position = offset_to_position(text, offset, encoding)
    assert position_to_offset(text, position.line, position.character, encoding) == offset


@given(TEXTS, st.integers(-2, 12), st.integers(-2, 40))
def test_any_position_maps_inside_the_text(text, line, character):
    for encoding in ("utf-16", "utf-8", "utf-32"):
        offset = position_to_offset(text, line, character, encoding)
        assert 0 <= offset <= len(text)
        assert text[offset - 1 : offset + 1] != "\r\n"  # never between \r and \n
