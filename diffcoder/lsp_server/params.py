"""Raw params as real clients send them, made readable before pygls structures them.

vscode-languageclient 9.0.1 sends `textDocument/inlineCompletion` with the VS Code API's values,
not the protocol's: `context.triggerKind` 0 (VS Code's Invoke; LSP 3.18 counts from 1) and
`context.selectedCompletionInfo.range` as `[start, end]` (the JSON of a `vscode.Range`). lsprotocol
rejects both, so every keystroke with the suggest widget open would be InvalidParams. This module
rewrites what it can understand and drops the optional parts it cannot (each dropped part is one
INFO log line); what the protocol requires (`textDocument`, `position`, `context`) is left to the
usual checks, so a request without them is still InvalidParams.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)
INLINE_COMPLETION = "textDocument/inlineCompletion"
INVOKED, AUTOMATIC = 1, 2  # LSP 3.18's InlineCompletionTriggerKind


def normalise(method: Any, params: Any) -> Any:
    """`params` of `method` as the protocol wants them (a new object; the input is not touched)."""
    if method == INLINE_COMPLETION and isinstance(params, dict):
        return normalise_inline_completion(params)
    return params


def normalise_inline_completion(params: dict[str, Any]) -> dict[str, Any]:
    """InlineCompletionParams whose optional fields lsprotocol can read (see the module)."""
    fixed = dict(params)
    token = fixed.get("workDoneToken")
    if "workDoneToken" in fixed and not _is_token(token):
        if token is not None:
            _dropped("workDoneToken", token)
        del fixed["workDoneToken"]
    context = fixed.get("context")
    if not isinstance(context, dict):
        return fixed  # required: a missing or null context stays InvalidParams
    context = dict(context)
    context["triggerKind"] = _trigger_kind(context.get("triggerKind"))
    if "selectedCompletionInfo" in context:
        selected = selected_completion_info(context["selectedCompletionInfo"])
        if selected is None:
            if context["selectedCompletionInfo"] is not None:
                _dropped("context.selectedCompletionInfo", context["selectedCompletionInfo"])
            del context["selectedCompletionInfo"]
        else:
            context["selectedCompletionInfo"] = selected
    fixed["context"] = context
    return fixed


def selected_completion_info(value: Any) -> dict[str, Any] | None:
    """`{range, text}` with an LSP range, from the protocol's shape or client 9's; None when it
    is missing, partial or malformed (the answer is then as if no item were selected)."""
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        return None
    where = value.get("range")
    if isinstance(where, (list, tuple)) and len(where) == 2:  # vscode.Range's JSON: [start, end]
        where = {"start": where[0], "end": where[1]}
    if not isinstance(where, dict):
        return None
    start, end = _position(where.get("start")), _position(where.get("end"))
    if (
        start is None
        or end is None
        or (end["line"], end["character"])
        < (
            start["line"],
            start["character"],
        )
    ):
        return None
    return {"range": {"start": start, "end": end}, "text": value["text"]}


def _position(value: Any) -> dict[str, int] | None:
    if not isinstance(value, dict):
        return None
    line, character = value.get("line"), value.get("character")
    if not all(_is_count(number) for number in (line, character)):
        return None
    return {"line": line, "character": character}


def _trigger_kind(value: Any) -> int:
    """1 (Invoked) or 2 (Automatic); anything else is Automatic. Client 9 sends VS Code's 0
    (Invoke) and 1 (Automatic), so its 1 reads as Invoked: harmless, the server answers both
    kinds alike."""
    if value == 0 and _is_count(value):
        return INVOKED
    if value in (INVOKED, AUTOMATIC) and _is_count(value):
        return value
    if value is not None:
        _dropped("context.triggerKind", value)
    return AUTOMATIC


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31


def _is_token(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _dropped(what: str, value: Any) -> None:
    logger.info("inlineCompletion: ignored %s %.80r (not what the protocol says)", what, value)
