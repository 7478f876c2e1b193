"""Choosing the region of a document to rewrite: selection, cursor scope, instruction, budget.

Syntax-aware through the `.scm` scope queries; an unsupported language or a mostly-ERROR parse
falls back to lines and indentation. All offsets are Python `str` offsets; regions are whole lines
of `positions.LineIndex` (a line ends at LF, CRLF or CR, as in the editor).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from diffcoder.editing import instruction_hints as hints
from diffcoder.editing.budgets import DEFAULT_REGION_TOKENS
from diffcoder.editing.languages import resolve_language
from diffcoder.editing.line_scopes import indent_block, line_window
from diffcoder.editing.parsing import ByteIndex, error_share, is_mostly_error, parse_text
from diffcoder.editing.positions import LineIndex
from diffcoder.editing.syntax_scopes import Definition, SyntaxScopes, collect_scopes

CHARS_PER_TOKEN = 3.5


def estimate_tokens(text: str) -> int:
    """Rough token count for code when no tokenizer is at hand."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class Region:
    """Whole lines text[start:end] chosen for a rewrite, and why."""

    start: int
    end: int
    kind: str  # selection | function | method | class | statements | file | lines
    reason: str
    name: str | None = None


@dataclass(frozen=True)
class _Span:
    first: int  # rows, inclusive
    last: int
    kind: str
    reason: str = ""
    name: str | None = None

    @property
    def label(self) -> str:
        first, last = self.first + 1, self.last + 1
        return f"line {first}" if first == last else f"lines {first}-{last}"

    @property
    def title(self) -> str:
        if self.kind in ("function", "method", "class") and self.name:
            return f"{self.kind} `{self.name}` ({self.label})"
        return f"the {self.kind} at {self.label}"

    def within(self, other: _Span) -> bool:
        return other.first <= self.first and self.last <= other.last


class _Doc:
    def __init__(self, text: str, language: str | None) -> None:
        self.text = text
        self.index = LineIndex(text)
        self.bytes = ByteIndex(self.index)
        self.lines = self.index.lines  # with their line ends
        self.language = resolve_language(language)
        self.tree = parse_text(text, self.language)
        self.scopes: SyntaxScopes | None = None
        self.fallback_reason = "There is no tree-sitter grammar for this language"
        if self.tree is not None and self.language is not None:
            if is_mostly_error(self.tree):
                share = error_share(self.tree)
                self.fallback_reason = f"The parse is mostly errors ({share:.0%} of the file)"
            else:
                self.scopes = collect_scopes(self.tree, self.language, text, index=self.bytes)
        # A final line end ends the last line rather than starting an empty one.
        self.last_row = max(len(self.lines) - (2 if self.lines[-1] == "" else 1), 0)

    def file_span(self, reason: str) -> _Span:
        return _Span(0, self.last_row, "file", reason)

    def blank(self, row: int) -> bool:
        return not self.lines[row].strip()

    def slice(self, first: int, last: int) -> str:
        start, end = self.index.line_span(first, last)
        return self.text[start:end]

    def row(self, offset: int) -> int:
        return min(self.index.line_of(offset), self.last_row)


def _definition_span(d: Definition) -> _Span:
    return _Span(d.first_row, d.last_row, d.kind, "", d.name)


def _sharing(defs: list[Definition]) -> str:
    """`; function `a` shares a line with it` for definitions beside (not around) defs[0]: the
    region is whole lines, so their code on those lines is in it too."""
    node = defs[0].node
    beside = [
        _definition_span(d).title.split(" (")[0]
        for d in defs[1:]
        if d.node.end_byte <= node.start_byte or node.end_byte <= d.node.start_byte
    ]
    if not beside:
        return ""
    return f"; {', '.join(beside)} {'shares' if len(beside) == 1 else 'share'} a line with it"


def _cursor_scope(doc: _Doc, scopes: SyntaxScopes, row: int, cursor: int) -> _Span:
    defs = scopes.at_cursor(row, doc.bytes.byte(cursor))
    if defs:
        span = _definition_span(defs[0])
        if span.kind == "class":
            header = row <= scopes.rows(defs[0].node)[0]
            where = "on the header of" if header else "between the members of"
            return replace(span, reason=f"The cursor is {where} {span.title}{_sharing(defs)}.")
        owner = next((d for d in defs[1:] if d.kind == "class" and d.name), None)
        where = span.title
        if owner is not None:
            where = where.replace(" (", f" of class `{owner.name}` (", 1)
        return replace(span, reason=f"The cursor is inside {where}{_sharing(defs)}.")
    statements, _ = scopes.top_level(row)
    group = scopes.group_around(statements, row)
    if group is None:
        return doc.file_span("The file has no statements, so the region is the whole file.")
    span = _Span(group[0], group[1], "statements")
    if any(span.first <= row <= span.last for row in scopes.import_rows):
        # Imports only change together with the code that uses them.
        reason = f"The cursor is on the imports ({span.label}), which the rest of the file uses"
        return doc.file_span(f"{reason}, so the region is the whole file.")
    reason = (
        "The cursor is outside any function or class; the region is the nearest group of "
        f"top-level statements ({span.label})."
    )
    return replace(span, reason=reason)


def _widen_selection(doc: _Doc, scopes: SyntaxScopes, first: int, last: int) -> tuple[int, int]:
    """Grow rows until they hold complete syntax nodes and never part of a statement."""
    assert doc.tree is not None
    root = doc.tree.root_node
    for _ in range(64):
        start, end = doc.index.line_span(first, last)
        chunk = doc.text[start:end]
        content_start = start + len(chunk) - len(chunk.lstrip())
        content_end = start + len(chunk.rstrip())
        if content_start >= content_end:
            break
        low, high = doc.bytes.byte(content_start), doc.bytes.byte(content_end)
        node = root.named_descendant_for_byte_range(low, high) or root
        covered = [c for c in node.children if c.end_byte > low and c.start_byte < high]
        spans = [scopes.rows(c) for c in covered]
        if node != root and not any(c in scopes.statement_set for c in covered):
            # The pieces are parts of one statement (a header, some arguments): take it whole.
            holder = node
            while holder is not None and holder not in scopes.statement_set:
                holder = holder.parent
            if holder is not None:
                spans.append(scopes.rows(holder))
        new_first = min([first, *(s[0] for s in spans)])
        new_last = min(max([last, *(s[1] for s in spans)]), doc.last_row)
        if (new_first, new_last) == (first, last):
            break
        first, last = new_first, new_last
    return first, last


def _selection_span(doc: _Doc, start: int, end: int) -> _Span:
    first, last = doc.row(start), doc.row(max(start, end - 1))
    lines = _Span(first, last, "selection")
    if doc.scopes is not None:
        widened = _Span(*_widen_selection(doc, doc.scopes, first, last), "selection")
        if widened != lines:
            reason = (
                f"The selection, widened to whole lines and complete statements ({widened.label})."
            )
            return replace(widened, reason=reason)
    return replace(lines, reason=f"The selection, extended to whole lines ({lines.label}).")


def _indent_block(doc: _Doc, row: int) -> _Span:
    rows = indent_block(doc.lines, row, doc.last_row)
    if rows is None:
        return doc.file_span(f"{doc.fallback_reason}, and the file is blank.")
    span = _Span(*rows, "lines")
    where = f"the region is the indented block around the cursor ({span.label})"
    return replace(span, reason=f"{doc.fallback_reason}; {where}.")


def _widen_for_instruction(doc: _Doc, span: _Span, instruction: str | None) -> _Span | None:
    """The enclosing class or the whole file when the instruction points outside `span`."""
    if not instruction or span.kind == "file":
        return None
    lead = span.reason.rstrip(".")
    word = hints.file_word(instruction)
    if word:
        reason = f"{lead}; the instruction mentions “{word}”, which points outside it"
        return doc.file_span(f"{reason}, so the region is the whole file.")
    scopes = doc.scopes
    if scopes is None:
        return None
    classes = [d for d in scopes.enclosing(span.first, span.last) if d.kind == "class"]
    names = hints.mentioned_names(instruction)
    inside = {d.name for d in scopes.definitions if _definition_span(d).within(span)}
    elsewhere = [d for d in scopes.definitions if d.name in names and d.name not in inside]
    if elsewhere:
        first = min(span.first, *(d.first_row for d in elsewhere))
        last = max(span.last, *(d.last_row for d in elsewhere))
        holder = next((c for c in classes if c.first_row <= first and last <= c.last_row), None)
        listed = ", ".join(sorted({f"`{d.name}`" for d in elsewhere}))
        lead = f"{lead}; the instruction names {listed}, defined outside it"
    else:
        word = hints.class_word(instruction)
        if word is None:
            return None
        holder = next(
            (c for c in classes if (c.first_row, c.last_row) != (span.first, span.last)), None
        )
        if holder is None and classes:
            return None  # the region already is the class
        lead = f"{lead}; the instruction mentions “{word}”"
    if holder is None:
        return doc.file_span(f"{lead}, so the region is the whole file.")
    widened = _definition_span(holder)
    return replace(widened, reason=f"{lead}, so the region is the enclosing {widened.title}.")


def _named_definition(doc: _Doc, instruction: str | None) -> _Span | None:
    """With no cursor or selection: the innermost definition holding all the ones named."""
    if not instruction or doc.scopes is None or hints.file_word(instruction):
        return None
    names = hints.mentioned_names(instruction)
    named = [d for d in doc.scopes.definitions if d.name in names and d.kind != "variable"]
    if not named:
        return None
    first = min(d.first_row for d in named)
    last = max(d.last_row for d in named)
    holders = doc.scopes.enclosing(first, last)
    if not holders:
        return None
    span = _definition_span(holders[0])
    return replace(span, reason=f"The instruction names {span.title}.")


def _shrink_candidates(doc: _Doc, base: _Span, anchor: int) -> list[_Span]:
    """Smaller regions around `anchor`, for when the wanted one is over the budget."""
    candidates = [base]
    scopes = doc.scopes
    if scopes is None:
        return candidates
    _, holder = scopes.top_level(anchor)
    if holder is not None:
        first, last = scopes.rows(holder)
        top = _Span(scopes.attached_first_row(first), last, "statements")
        defs = [d for d in scopes.definitions if (d.first_row, d.last_row) == (top.first, top.last)]
        candidates.append(_definition_span(defs[0]) if defs else top)
    inner = scopes.enclosing(anchor, anchor)
    candidates.extend(_definition_span(d) for d in inner)
    statements = scopes.outermost_statements(inner[0].node if inner else None)
    group = scopes.group_around(statements, anchor)
    if group is not None:
        candidates.append(_Span(group[0], group[1], "statements"))
    statement = scopes.innermost_statement(anchor)
    if statement is not None:
        candidates.append(_Span(*scopes.rows(statement), "statements"))
    return candidates


def _fit_budget(
    doc: _Doc, wanted: _Span, base: _Span, anchor: int, count: Callable[[str], int], budget: int
) -> _Span:
    size = count(doc.slice(wanted.first, wanted.last))
    if size <= budget:
        return wanted
    lead = (
        f"{wanted.reason.rstrip('.')}, but that is about {size} tokens, over the budget of {budget}"
    )
    candidates = [
        c
        for c in _shrink_candidates(doc, base, anchor)
        if c.within(wanted)
        and c.first <= anchor <= c.last
        and (c.first, c.last) != (wanted.first, wanted.last)
    ]
    for candidate in sorted(candidates, key=lambda c: c.first - c.last):
        if count(doc.slice(candidate.first, candidate.last)) <= budget:
            return replace(candidate, reason=f"{lead}; shrunk to {candidate.title}.")

    def lines_cost(first: int, last: int) -> int:
        # Counted as the prompt shows them: the file's last line too ends with a line end there.
        text = doc.slice(first, last)
        return count(text if text.endswith(("\n", "\r")) else text + "\n")

    rows = line_window((wanted.first, wanted.last), anchor, lines_cost, budget)
    span = _Span(*rows, "lines")
    return replace(span, reason=f"{lead}; shrunk to {span.label}, around line {anchor + 1}.")


def choose_region(
    text: str,
    language: str | None,
    *,
    selection: tuple[int, int] | None = None,
    cursor: int | None = None,
    instruction: str | None = None,
    budget: int = DEFAULT_REGION_TOKENS,
    count_tokens: Callable[[str], int] | None = None,
) -> Region:
    """The whole-line region to rewrite, its kind and a sentence saying why.

    `language` is a canonical name or LSP languageId (None/unknown: line-based fallback);
    `selection` and `cursor` are `str` offsets; `budget` is the region's tokens (by
    `count_tokens`, default `estimate_tokens`).
    """
    if budget < 1:
        raise ValueError(f"the region budget must be a positive number of tokens, not {budget}")
    count = count_tokens or estimate_tokens
    if not text.strip():
        reason = "The document is blank, so the region is the whole file."
        return Region(start=0, end=len(text), kind="file", reason=reason)
    doc = _Doc(text, language)
    if selection is not None and selection[0] == selection[1]:
        cursor, selection = selection[0], None
    if selection is not None:
        start, end = sorted(selection)
        base, anchor = _selection_span(doc, start, end), doc.row(start)
    elif cursor is not None:
        anchor = doc.row(cursor)
        if doc.scopes is None:
            base = _indent_block(doc, anchor)
        else:
            base = _cursor_scope(doc, doc.scopes, anchor, min(max(cursor, 0), len(text)))
    else:
        base = _named_definition(doc, instruction) or doc.file_span(
            "There is no cursor or selection, so the region is the whole file."
        )
        anchor = base.first
    wanted = _widen_for_instruction(doc, base, instruction) or base
    span = _fit_budget(doc, wanted, base, anchor, count, budget)
    start, end = doc.index.line_span(span.first, span.last)
    return Region(start=start, end=end, kind=span.kind, reason=span.reason, name=span.name)
