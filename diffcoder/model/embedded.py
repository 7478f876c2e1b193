"""The demo model shipped inside the package: used when no checkpoint is named.

A 5 M-parameter block-diffusion model trained by `diffcoder train` on the standard library, with
Stable-DiffCoder's architecture, special tokens and decoding. It shows the product working; the
8B checkpoint (`--model PATH`) is what makes real edits.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

DEMO_MODEL_DIR = Path(__file__).parent / "demo_checkpoint"
DEMO_MODEL_NOTE = (
    "the embedded demo model (5 M parameters, trained on Python's standard library; its edits "
    "are rough): pass --model PATH to a Stable-DiffCoder-8B directory for real edits"
)


def demo_model_available() -> bool:
    return (DEMO_MODEL_DIR / "model.safetensors").is_file()


def demo_model_path() -> Path:
    """The embedded checkpoint, or a clear error when the package was installed without it."""
    if not demo_model_available():
        raise FileNotFoundError(
            f"the embedded demo model is missing from {DEMO_MODEL_DIR}; reinstall diffcoder-lsp "
            "or pass --model PATH to a checkpoint directory"
        )
    return DEMO_MODEL_DIR


def model_or_demo(model: str | Path | None, say: Callable[[str], None]) -> str | Path:
    """`model`, or else the demo model, announced through `say` (no checkpoint is picked
    silently)."""
    if model is not None:
        return model
    say(f"No --model given: using {DEMO_MODEL_NOTE}")
    return demo_model_path()


def is_demo_model(path: str | Path) -> bool:
    try:
        return Path(path).resolve() == DEMO_MODEL_DIR.resolve()
    except OSError:
        return False
