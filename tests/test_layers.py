"""Layer rules from the architecture, checked by importing: `editing` and the generation-backend
interface never load torch, transformers or pygls (tests/test_import_graph.py reads the source)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import diffcoder.editing


def test_editing_and_the_backend_interface_import_no_torch_transformers_or_pygls():
    modules = [
        m.name for m in pkgutil.walk_packages(diffcoder.editing.__path__, "diffcoder.editing.")
    ]
    assert "diffcoder.editing.regions" in modules and "diffcoder.editing.edit_pipeline" in modules
    modules += ["diffcoder.model.types", "diffcoder.model.backend"]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(sorted(m for m in ('torch', 'transformers', 'pygls') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
