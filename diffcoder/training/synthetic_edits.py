"""Mechanical instruction edits made from real functions, so the demo model learns the edit format.

Each edit is (instruction, new function text) for a `Definition`: an early-return guard for an
empty argument, or a rename of the function or of one parameter. The rewrite is exact, so the
model learns to copy the unchanged code and change only what the instruction names.
"""

from __future__ import annotations

import random
import re

from diffcoder.training.corpus import Definition

GUARD_VALUES = ("None", "0", "0.0", "[]", '""', "False", "{}", "-1")
GUARD_INSTRUCTIONS = (
    "Handle the empty list: return {value}.",
    "Return {value} when `{param}` is empty.",
    "If `{param}` is empty, return {value}.",
    "Handle an empty `{param}` by returning {value}.",
)
NEW_NAMES = (
    "compute", "process", "handle", "build", "convert", "collect", "check", "load", "update",
    "parse", "render", "resolve", "normalize", "transform", "evaluate", "prepare",
)  # fmt: skip
NEW_PARAMS = ("items", "values", "data", "source", "target", "value", "text", "node", "entry")


def _word(name: str) -> re.Pattern[str]:
    # A whole identifier, not an attribute of something else (`obj.name` stays).
    return re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)")


def guard_edit(text: str, fn: Definition, rng: random.Random) -> tuple[str, str] | None:
    params = [p for p in fn.params if p not in ("self", "cls")]
    if not params:
        return None
    param = params[0]
    value = rng.choice(GUARD_VALUES)
    instruction = rng.choice(GUARD_INSTRUCTIONS).format(param=param, value=value)
    guard = f"{fn.indent}if not {param}:\n{fn.indent}    return {value}\n"
    new = text[fn.start : fn.body_start] + guard + text[fn.body_start : fn.end]
    return instruction, new


def rename_function(text: str, fn: Definition, rng: random.Random) -> tuple[str, str] | None:
    if fn.name.startswith("__"):
        return None
    new_name = rng.choice(NEW_NAMES)
    if fn.name.startswith("_"):
        new_name = "_" + new_name
    if new_name == fn.name:
        return None
    region = text[fn.start : fn.end]
    instruction = f"Rename the function `{fn.name}` to `{new_name}`."
    return instruction, _word(fn.name).sub(new_name, region)


def rename_parameter(text: str, fn: Definition, rng: random.Random) -> tuple[str, str] | None:
    params = [p for p in fn.params if p not in ("self", "cls")]
    region = text[fn.start : fn.end]
    if not params:
        return None
    param = rng.choice(params)
    new_param = rng.choice([p for p in NEW_PARAMS if p not in params and p not in region] or [""])
    if not new_param:
        return None
    instruction = f"Rename the parameter `{param}` to `{new_param}`."
    return instruction, _word(param).sub(new_param, region)


EDITS = (guard_edit, guard_edit, rename_function, rename_parameter)


def make_edit(text: str, fn: Definition, rng: random.Random) -> tuple[str, str] | None:
    """(instruction, new text of `text[fn.start:fn.end]`), or None when the draw does not apply."""
    return rng.choice(EDITS)(text, fn, rng)
