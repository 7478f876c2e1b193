"""What text DiffCoder edits at all: the checks the language server makes of an open document and
the CLI of a file, in one place so both refuse the same input with the same words.
"""

from __future__ import annotations

MAX_DOCUMENT_CHARS = 3 * 1024 * 1024


def text_problem(text: str, name: str) -> str | None:
    """Why `text` (a document called `name`) cannot be edited, or None when it can."""
    if len(text) > MAX_DOCUMENT_CHARS:
        return (
            f"{name} is too large for DiffCoder ({len(text) // 1024} KiB; the limit is "
            f"{MAX_DOCUMENT_CHARS // (1024 * 1024)} MiB): select a smaller file"
        )
    if "\x00" in text:
        return f"{name} looks binary (it contains NUL characters); DiffCoder edits text only"
    return None
