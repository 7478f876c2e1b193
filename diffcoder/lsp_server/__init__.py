"""The language server: LSP protocol handling on top of `diffcoder.editing` and `diffcoder.model`."""
