"""The training corpus: the running interpreter's own standard library sources (PSF licence).

Files are found with `sysconfig`, test suites and vendored trees are left out, exact duplicates
dropped, and a fixed share of files (chosen by content hash, so it is stable) held out.
"""

from __future__ import annotations

import ast
import hashlib
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Test suites are huge and repetitive; the others are data, vendored code or demos.
_SKIPPED_DIRS = {
    "site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__", "ensurepip",
    "turtledemo", "lib2to3", "idlelib", "pydoc_data", "encodings",
}  # fmt: skip
_MAX_FILE_BYTES = 200_000


@dataclass(frozen=True)
class SourceFile:
    path: str  # relative to the library root
    text: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Corpus:
    train: tuple[SourceFile, ...]
    heldout: tuple[SourceFile, ...]

    def describe(self) -> str:
        size = sum(len(f.text) for f in self.train) / 1e6
        return (
            f"{len(self.train)} training files ({size:.1f} M chars), {len(self.heldout)} held out"
        )


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def _python_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*.py")):
        parts = set(path.relative_to(root).parts[:-1])
        if parts & _SKIPPED_DIRS or path.name.startswith("test_"):
            continue
        yield path


def read_sources(root: Path, max_files: int | None = None) -> list[SourceFile]:
    """Readable, parseable, deduplicated `.py` files under `root`, in path order."""
    seen: set[str] = set()
    files: list[SourceFile] = []
    for path in _python_files(root):
        try:
            if path.stat().st_size > _MAX_FILE_BYTES:
                continue
            text = path.read_text(encoding="utf-8")
            ast.parse(text)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            continue
        text = text.replace("\r\n", "\n")
        source = SourceFile(path.relative_to(root).as_posix(), text)
        if not text.strip() or source.digest in seen:
            continue
        seen.add(source.digest)
        files.append(source)
        if max_files is not None and len(files) >= max_files:
            break
    return files


def split_corpus(files: list[SourceFile], heldout_share: float = 0.03) -> Corpus:
    """Hold out files whose content hash falls in the first `heldout_share` of the hash range."""
    limit = int(heldout_share * 2**32)
    heldout = tuple(f for f in files if int(f.digest[:8], 16) < limit)
    train = tuple(f for f in files if int(f.digest[:8], 16) >= limit)
    if not train:
        raise ValueError("the corpus is empty after the held-out split; add more source files")
    return Corpus(train, heldout)


def load_corpus(root: Path | None = None, max_files: int | None = None) -> Corpus:
    root = root or stdlib_root()
    files = read_sources(root, max_files)
    if not files:
        raise ValueError(f"no readable Python files under {root}; pass --corpus DIR")
    return split_corpus(files)


@dataclass(frozen=True)
class Definition:
    """A function (or method) in a source file, by character offsets."""

    start: int  # start of its first line (decorators included)
    body_start: int  # start of the first body statement's line, after any docstring
    end: int  # end of its last line, newline included
    name: str
    params: tuple[str, ...]
    indent: str  # the body's indentation


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    return starts


def functions(text: str) -> list[Definition]:
    """Every `def` with a one-line-or-more body, outermost first."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    starts = _line_starts(text)
    lines = text.split("\n")
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or not node.body:
            continue
        first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
        body = node.body
        if (
            len(body) > 1
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body = body[1:]
        head = body[0]
        if head.lineno <= node.lineno:  # `def f(): return 1` on one line
            continue
        end_line = node.end_lineno or node.lineno
        end = starts[end_line] if end_line < len(starts) else len(text)
        body_line = lines[head.lineno - 1]
        indent = body_line[: len(body_line) - len(body_line.lstrip())]
        params = tuple(a.arg for a in node.args.posonlyargs + node.args.args)
        found.append(
            Definition(starts[first - 1], starts[head.lineno - 1], end, node.name, params, indent)
        )
    return found
