"""Supported languages: LSP languageId / file extension → grammar, cached parsers and scope queries.

Grammars come from the individually pinned `tree-sitter-*` wheels (they bundle compiled parsers).
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import PurePath

from tree_sitter import Language, Parser, Query


@dataclass(frozen=True)
class LanguageSpec:
    name: str
    module: str
    factory: str
    extensions: tuple[str, ...]


SPECS: dict[str, LanguageSpec] = {
    spec.name: spec
    for spec in (
        LanguageSpec("python", "tree_sitter_python", "language", (".py", ".pyi", ".pyw")),
        LanguageSpec(
            "javascript", "tree_sitter_javascript", "language", (".js", ".mjs", ".cjs", ".jsx")
        ),
        LanguageSpec(
            "typescript", "tree_sitter_typescript", "language_typescript", (".ts", ".mts", ".cts")
        ),
        LanguageSpec("tsx", "tree_sitter_typescript", "language_tsx", (".tsx",)),
        LanguageSpec("go", "tree_sitter_go", "language", (".go",)),
        LanguageSpec("rust", "tree_sitter_rust", "language", (".rs",)),
        LanguageSpec("java", "tree_sitter_java", "language", (".java",)),
        # `.h` is ambiguous; C is the safer reading since the C++ grammar also parses most C.
        LanguageSpec("c", "tree_sitter_c", "language", (".c", ".h")),
        LanguageSpec(
            "cpp",
            "tree_sitter_cpp",
            "language",
            (".cc", ".cpp", ".cxx", ".c++", ".hh", ".hpp", ".hxx", ".h++", ".ipp", ".inl"),
        ),
    )
}

# LSP languageIds (and a few common aliases) that are not already a canonical name.
_ALIASES: dict[str, str] = {
    "py": "python",
    "python3": "python",
    "js": "javascript",
    "javascriptreact": "javascript",
    "jsx": "javascript",
    "ts": "typescript",
    "typescriptreact": "tsx",
    "golang": "go",
    "rs": "rust",
    "c++": "cpp",
    "cxx": "cpp",
    "cuda-cpp": "cpp",
    "objective-c": "c",
}

_EXTENSIONS: dict[str, str] = {ext: spec.name for spec in SPECS.values() for ext in spec.extensions}


def supported_languages() -> list[str]:
    """The canonical names of the languages with a grammar, for messages."""
    return list(SPECS)


def resolve_language(name: str | None) -> str | None:
    """Canonical language name for an LSP languageId or alias; None when unsupported."""
    if not name:
        return None
    key = name.strip().lower()
    if key in SPECS:
        return key
    return _ALIASES.get(key)


def language_for_path(path: str | PurePath | None) -> str | None:
    """Canonical language name from a file name or URI path, by extension."""
    if not path:
        return None
    suffix = PurePath(str(path)).suffix.lower()
    return _EXTENSIONS.get(suffix)


def detect_language(
    language_id: str | None = None, path: str | PurePath | None = None
) -> str | None:
    """The languageId wins when it names a supported language; otherwise the file extension."""
    return resolve_language(language_id) or language_for_path(path)


@cache
def get_language(name: str) -> Language | None:
    canonical = resolve_language(name)
    if canonical is None:
        return None
    spec = SPECS[canonical]
    module = importlib.import_module(spec.module)
    return Language(getattr(module, spec.factory)())


# A tree-sitter Parser holds mutable state, so each thread (event loop, model worker) gets its own.
_local = threading.local()


def get_parser(name: str) -> Parser | None:
    canonical = resolve_language(name)
    if canonical is None:
        return None
    parsers: dict[str, Parser] = _local.__dict__.setdefault("parsers", {})
    parser = parsers.get(canonical)
    if parser is None:
        parser = Parser(get_language(canonical))
        parsers[canonical] = parser
    return parser


# TSX is TypeScript plus JSX expressions, so both grammars share one query file.
_QUERY_FILES: dict[str, str] = {"tsx": "typescript"}


def query_source(name: str) -> str:
    """The `.scm` scope query shipped for a canonical language name."""
    stem = _QUERY_FILES.get(name, name)
    return (
        resources.files("diffcoder.editing").joinpath("queries", f"{stem}.scm").read_text("utf-8")
    )


@cache
def scope_query(name: str) -> Query | None:
    """Compiled scope query (captures: function, method, class, name, wrapper, namespace, …)."""
    canonical = resolve_language(name)
    if canonical is None:
        return None
    return Query(get_language(canonical), query_source(canonical))
