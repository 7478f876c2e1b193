"""Parity vs fast decode benchmark; the same as `diffcoder bench decode`."""

import sys

from diffcoder.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "decode", *sys.argv[1:]]))
