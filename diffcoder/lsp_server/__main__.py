"""`diffcoder-lsp` / `python -m diffcoder.lsp_server` (not yet: the server is its own issue)."""

import sys


def main(argv: list[str] | None = None) -> int:
    print(
        "diffcoder-lsp: the language server is not implemented yet. "
        "Use `diffcoder generate --model DIR --prompt ...` to run the model meanwhile.",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
