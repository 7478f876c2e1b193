"""diffcoder: code edits from a local block-diffusion model, served over LSP."""

__version__ = "0.1.0"
