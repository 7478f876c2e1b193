"""Each server setting's default lives in `diffcoder/lsp_server/settings.py`; the copies a user
reads (the extension's package.json and config.ts, docs/lsp.md) must say the same."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from diffcoder.lsp_server.settings import Settings
from diffcoder.model.types import DEFAULT_THRESHOLD

ROOT = Path(__file__).parents[2]
EXTENSION = ROOT / "extensions" / "vscode"
# Settings of the extension alone (how it starts the server, how it shows code actions),
# unknown to the server.
EXTENSION_ONLY = ("server.", "codeActions.")


def flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"edit": {"maxNewTokens": 1}} -> {"edit.maxNewTokens": 1}"""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


PYTHON = flat(Settings().model_dump(by_alias=True))


def server_keys(keys) -> set[str]:
    return {k for k in keys if not k.startswith(EXTENSION_ONLY)}


def package_defaults() -> dict[str, Any]:
    manifest = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
    properties = manifest["contributes"]["configuration"]["properties"]
    return {name.removeprefix("diffcoder."): p["default"] for name, p in properties.items()}


def config_ts_fallbacks() -> dict[str, Any]:
    """`get('edit.maxNewTokens', 2048)` (with or without a type argument) in readConfig."""
    source = (EXTENSION / "src" / "config.ts").read_text(encoding="utf-8")
    calls = re.findall(r"\bget(?:<.*?>)?\('([\w.]+)',\s*([^)]*?)\)", source)
    return {key: json.loads(value.replace("'", '"')) for key, value in calls}


def docs_defaults() -> dict[str, Any]:
    text = (ROOT / "docs" / "lsp.md").read_text(encoding="utf-8")
    section = text.split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([\w.]+)` \| `([^`]*)` \|", section, re.MULTILINE)
    return {key: json.loads(value) for key, value in rows}


def test_the_threshold_is_the_models_default():
    assert PYTHON["edit.threshold"] == DEFAULT_THRESHOLD
    assert len(PYTHON) >= 13 and "context.maxTokens" in PYTHON


def test_package_json_defaults():
    declared = package_defaults()
    assert server_keys(declared) == set(PYTHON)
    expected = {**PYTHON, "modelPath": ""}  # VS Code settings have no null: "" means unset
    assert {k: declared[k] for k in PYTHON} == expected


def test_config_ts_fallbacks():
    fallbacks = config_ts_fallbacks()
    assert server_keys(fallbacks) == set(PYTHON)
    # "" and [] mean "not set": serverSettings leaves them out and the server's default applies
    expected = {**PYTHON, "modelPath": "", "edit.instructions": []}
    assert {k: fallbacks[k] for k in PYTHON} == expected


def test_docs_table():
    assert docs_defaults() == PYTHON
