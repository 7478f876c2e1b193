"""Server settings: pydantic models with the camelCase names editors send.

Parsed from `initializationOptions` and `workspace/didChangeConfiguration`; a bad value is
reported and replaced by its default, never fatal. Each default is written here only: a test holds
the extension's package.json and config.ts and docs/lsp.md to them.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from diffcoder.editing.budgets import DEFAULT_CONTEXT_TOKENS
from diffcoder.editing.ghost_stop import DEFAULT_STOP_AT, StopAt
from diffcoder.model.types import DEFAULT_THRESHOLD

DEFAULT_INSTRUCTIONS = (
    "Add a docstring",
    "Add type hints",
    "Fix the bug",
    "Simplify",
    "Add error handling",
)


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class EditSettings(_Model):
    # a cap: the budget itself follows the region's size (edit_prompt.build_edit_prompt)
    max_new_tokens: int = Field(2048, ge=1, le=8192)
    threshold: float | None = Field(DEFAULT_THRESHOLD, gt=0.0, le=1.0)
    reject_syntax_errors: bool = True
    instructions: list[str] = Field(default_factory=lambda: list(DEFAULT_INSTRUCTIONS))
    apply_timeout_s: float = Field(10.0, gt=0.0, le=600.0)


class InlineSettings(_Model):
    enabled: bool = True
    debounce_ms: int = Field(150, ge=0, le=10_000)
    max_new_tokens: int = Field(64, ge=1, le=1024)
    stop_at: StopAt = DEFAULT_STOP_AT  # where ghost text stops: block, line or none


class CompletionSettings(_Model):
    enabled: bool = True


class ContextSettings(_Model):
    max_tokens: int = Field(DEFAULT_CONTEXT_TOKENS, ge=256, le=131_072)


class Settings(_Model):
    model_path: str | None = None
    quant: Literal["auto", "none", "8bit", "4bit"] = "auto"
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    edit: EditSettings = Field(default_factory=EditSettings)
    inline: InlineSettings = Field(default_factory=InlineSettings)
    completion: CompletionSettings = Field(default_factory=CompletionSettings)
    context: ContextSettings = Field(default_factory=ContextSettings)


def _drop(data: Any, loc: tuple[int | str, ...]) -> bool:
    """Delete the value at `loc` (a pydantic error location) from nested dicts/lists."""
    for key in loc[:-1]:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return False
    try:
        del data[loc[-1]]
    except (KeyError, IndexError, TypeError):
        return False
    return True


def parse_settings(raw: Any) -> tuple[Settings, list[str]]:
    """Settings from an editor's JSON (flat or under a `diffcoder` key) and the problems found.

    Each invalid value is dropped so its default applies; the rest of the settings are kept.
    """
    if isinstance(raw, dict) and isinstance(raw.get("diffcoder"), dict):
        raw = raw["diffcoder"]
    if raw is None:
        return Settings(), []
    if not isinstance(raw, dict):
        return Settings(), [f"settings must be an object, not {type(raw).__name__}"]
    data = copy.deepcopy(raw)
    problems: list[str] = []
    for _ in range(20):  # each round drops at least one bad value
        try:
            return Settings.model_validate(data), problems
        except ValidationError as error:
            dropped = False
            for item in error.errors():
                loc = tuple(item["loc"])
                name = ".".join(str(part) for part in loc)
                problems.append(f"{name}: {item['msg']} (got {item.get('input')!r}); using default")
                dropped = _drop(data, loc) or dropped
            if not dropped:
                break
    return Settings(), problems


def overlay_pulled(options: Any, pulled: dict[str, Any]) -> Any:
    """initializationOptions overlaid with the pulled section (pulled values win)."""
    if isinstance(options, dict) and isinstance(options.get("diffcoder"), dict):
        options = options["diffcoder"]
    base = dict(options) if isinstance(options, dict) else {}
    for key, value in pulled.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            value = {**base[key], **value}
        base[key] = value
    return base
