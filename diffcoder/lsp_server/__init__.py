"""The language server: LSP protocol on top of `diffcoder.editing` and `diffcoder.model`."""
