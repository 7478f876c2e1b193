"""Language detection from LSP languageIds and file extensions, cached parsers, scope queries."""

from __future__ import annotations

import threading

import pytest

from diffcoder.editing.languages import (
    SPECS,
    detect_language,
    get_language,
    get_parser,
    language_for_path,
    resolve_language,
    scope_query,
)


@pytest.mark.parametrize(
    ("language_id", "expected"),
    [
        ("python", "python"),
        ("javascript", "javascript"),
        ("javascriptreact", "javascript"),
        ("typescript", "typescript"),
        ("typescriptreact", "tsx"),
        ("go", "go"),
        ("rust", "rust"),
        ("java", "java"),
        ("c", "c"),
        ("cpp", "cpp"),
        ("C++", "cpp"),
        (" Python ", "python"),
        ("ruby", None),
        ("", None),
        (None, None),
    ],
)
def test_resolve_language_ids(language_id: str | None, expected: str | None) -> None:
    assert resolve_language(language_id) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a/b/tool.py", "python"),
        ("stub.pyi", "python"),
        ("app.jsx", "javascript"),
        ("mod.mjs", "javascript"),
        ("index.ts", "typescript"),
        ("view.tsx", "tsx"),
        ("main.go", "go"),
        ("lib.rs", "rust"),
        ("Main.java", "java"),
        ("x.c", "c"),
        ("x.h", "c"),
        ("x.HPP", "cpp"),
        ("x.cc", "cpp"),
        ("file:///home/u/proj/src/x.cpp", "cpp"),
        ("Makefile", None),
        ("notes.txt", None),
        (None, None),
    ],
)
def test_language_for_path(path: str | None, expected: str | None) -> None:
    assert language_for_path(path) == expected


def test_language_id_wins_over_extension() -> None:
    assert detect_language("typescriptreact", "x.js") == "tsx"
    assert detect_language("plaintext", "x.rs") == "rust"
    assert detect_language(None, "x.go") == "go"
    assert detect_language("plaintext", "notes.txt") is None


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_language_parses_and_has_a_query(name: str) -> None:
    parser = get_parser(name)
    assert parser is not None
    tree = parser.parse(b"x")
    assert tree.root_node is not None
    query = scope_query(name)
    assert query is not None and query.pattern_count > 0
    assert get_language(name) is get_language(name)


def test_unknown_language_gives_none() -> None:
    assert get_parser("cobol") is None
    assert get_language("cobol") is None
    assert scope_query("cobol") is None


def test_parsers_are_cached_per_thread() -> None:
    assert get_parser("python") is get_parser("python")
    other: list[object] = []
    thread = threading.Thread(target=lambda: other.append(get_parser("python")))
    thread.start()
    thread.join()
    assert other[0] is not None and other[0] is not get_parser("python")
