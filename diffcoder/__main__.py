"""`python -m diffcoder`: the same CLI as the `diffcoder` console script."""

from diffcoder.cli.main import main

raise SystemExit(main())
