"""Checks a command makes before it loads a model (the 8B model takes minutes to load): the file
can be written back, and the prompt fits, counted with the checkpoint's tokenizer alone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from diffcoder.model.backend import PromptTokenizer


def check_writable(path: Path) -> None:
    """`--write` can write `path` back (a PermissionError when it cannot)."""
    if not os.access(path, os.W_OK):
        raise PermissionError(
            f"cannot write {path}: it is read-only; make it writable or drop --write"
        )


def check_output(path: Path, *, directory: bool, flag: str) -> None:
    """A command that writes `path` (a file, or a directory it creates) when it ends can do so:
    checked when it starts, so a long run never fails at its last step."""
    if path.exists():
        if path.is_dir() != directory:
            kind = "a directory" if directory else "a file"
            raise ValueError(f"{flag} {path} exists and is not {kind}; pass another path")
        if not os.access(path, os.W_OK):
            raise PermissionError(f"cannot write {flag} {path}: it is read-only")
        return
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot create {flag} {path}: {parent} is not a writable directory")


def write_back(path: Path, read: str, new_text: str) -> str | None:
    """Write `new_text` over `path` unless the file changed since it was read as `read`; None
    when written, else why nothing was. The new text goes to a temporary file that replaces the
    old one, so an interrupted write never leaves half a file."""
    target = path.resolve()
    try:
        if target.read_bytes() != read.encode("utf-8"):
            return f"{path} changed while the edit was computed; nothing written, run it again"
        data = new_text.encode("utf-8")
        if not os.access(target.parent, os.W_OK | os.X_OK):
            target.write_bytes(data)  # a file we may write in a directory we may not
            return None
        temporary = target.with_name(f".{target.name}.diffcoder-{os.getpid()}")
        try:
            temporary.write_bytes(data)
            os.chmod(temporary, target.stat().st_mode & 0o7777)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
    except OSError as error:
        return f"cannot write {path}: {error.strerror or error}; nothing written"
    return None


def checkpoint_tokenizer(model: str | Path) -> PromptTokenizer:
    """The tokenizer of the checkpoint directory `model` without its weights (about a second),
    for the exact prompt checks; a `ModelLoadError` when the directory or its tokenizer cannot be
    used, the message the load would give minutes later."""
    from diffcoder.model.checkpoint_files import check_files, load_tokenizer

    path = Path(model).expanduser()
    check_files(path)
    return load_tokenizer(path)
