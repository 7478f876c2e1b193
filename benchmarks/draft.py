"""Draft-accelerated decoding benchmark; the same as `diffcoder bench draft`."""

import sys

from diffcoder.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", "draft", *sys.argv[1:]]))
