"""The `diffcoder` command line: one module per sub-command, dispatched by `diffcoder.cli.main`."""
