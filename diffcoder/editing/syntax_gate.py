"""The syntax gate: count ERROR/MISSING nodes and reject a region rewrite that adds any.

Unknown languages are never rejected (count 0): the gate guards against broken output, it does not
stand in for a compiler.
"""

from __future__ import annotations

from tree_sitter import Node

from diffcoder.editing.indentation import common_indentation
from diffcoder.editing.languages import resolve_language
from diffcoder.editing.parsing import parse_text
from diffcoder.editing.text_edits import split_lines


def count_problems(root: Node) -> int:
    """ERROR and MISSING nodes under (and including) `root`."""
    if not root.has_error:
        return 0
    count = 0
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            count += 1
        # has_error is true on every ancestor of a problem, so clean subtrees are skipped whole.
        stack.extend(child for child in node.children if child.has_error or child.is_missing)
    return count


def syntax_problems(text: str, language: str | None) -> int:
    """Number of ERROR + MISSING nodes in a parse of `text`; 0 for an unsupported language."""
    tree = parse_text(text, resolve_language(language))
    return 0 if tree is None else count_problems(tree.root_node)


def dedent_region(text: str) -> str:
    """Remove the leading whitespace that all non-blank lines share (kept byte-for-byte otherwise).

    A method body cut out of a class parses as top-level code once its base indentation is gone;
    unlike `textwrap.dedent` this leaves `\\r` and whitespace-only lines alone.
    """
    lines = split_lines(text)
    common = common_indentation(lines)
    if not common:
        return text
    return "".join(line[len(common) :] if line.startswith(common) else line for line in lines)


def adds_syntax_errors(
    old_region_text: str,
    new_region_text: str,
    language: str | None,
    *,
    prefix: str | None = None,
    suffix: str | None = None,
) -> bool:
    """True when the new region text parses with more ERROR/MISSING nodes than the old one.

    With `prefix`/`suffix` (the document text before and after the region) both versions are
    parsed in place inside the whole document, which is exact. Without them each region is
    dedented and parsed on its own: a method body or class member then parses as top-level code,
    and whatever the missing context costs is paid equally by old and new, so only the
    difference counts.
    """
    canonical = resolve_language(language)
    if canonical is None:
        return False
    if prefix is not None or suffix is not None:
        before, after = prefix or "", suffix or ""
        old_count = syntax_problems(before + old_region_text + after, canonical)
        new_count = syntax_problems(before + new_region_text + after, canonical)
    else:
        old_count = syntax_problems(dedent_region(old_region_text), canonical)
        new_count = syntax_problems(dedent_region(new_region_text), canonical)
    return new_count > old_count
