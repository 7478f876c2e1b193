"""Editing core: scoping, prompts, output handling and minimal edits (pure Python, no torch)."""
