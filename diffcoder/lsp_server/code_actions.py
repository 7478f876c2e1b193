"""`DiffCoder: …` code actions: offered for free, computed only when chosen.

Clients with `codeAction/resolve` for `edit` get the edit on resolve; others get a
`diffcoder.edit` command that computes and applies it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcException

from diffcoder.lsp_server.edits import parse_edit_args

if TYPE_CHECKING:
    from diffcoder.lsp_server.server import DiffCoderServer

logger = logging.getLogger(__name__)
_converter = get_converter()
EDIT_COMMAND = "diffcoder.edit"
MAX_DIAGNOSTIC_ACTIONS = 5


def _resolves_edits(server: DiffCoderServer) -> bool:
    text = server.client_capabilities.text_document
    code_action = text.code_action if text else None
    support = code_action.resolve_support if code_action else None
    return bool(support and "edit" in support.properties)


def _wanted(kind: types.CodeActionKind, only: list[str] | None) -> bool:
    if not only:
        return True
    return any(kind.value == o or kind.value.startswith(f"{o}.") for o in only)


def code_actions(server: DiffCoderServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    document = server.workspace.text_documents.get(unquote(uri))
    if document is None:
        logger.info("code actions for %s: not open", uri)
        return []
    resolve = _resolves_edits(server)
    only = [str(getattr(k, "value", k)) for k in (params.context.only or [])] or None

    def action(title, kind, instruction, where: types.Range, diagnostics=None) -> types.CodeAction:
        args = {
            "textDocument": {"uri": uri, "version": document.version},
            "range": _converter.unstructure(where),
            "instruction": instruction,
        }
        if resolve:
            return types.CodeAction(title, kind=kind, diagnostics=diagnostics, data=args)
        command = types.Command(title, command=EDIT_COMMAND, arguments=[{**args, "apply": True}])
        return types.CodeAction(title, kind=kind, diagnostics=diagnostics, command=command)

    actions = []
    fix = types.CodeActionKind.QuickFix
    if _wanted(fix, only):
        for diagnostic in params.context.diagnostics[:MAX_DIAGNOSTIC_ACTIONS]:
            message = " ".join(diagnostic.message.split())
            short = message if len(message) <= 60 else message[:57] + "…"
            line = diagnostic.range.start.line + 1
            instruction = f"Fix this problem reported at line {line}: {message}"
            title = f'DiffCoder: Fix "{short}"'
            actions.append(action(title, fix, instruction, diagnostic.range, [diagnostic]))
    rewrite = types.CodeActionKind.RefactorRewrite
    if _wanted(rewrite, only):
        for instruction in server.settings.edit.instructions:
            actions.append(action(f"DiffCoder: {instruction}", rewrite, instruction, params.range))
    return actions


async def resolve_code_action(
    server: DiffCoderServer, action: types.CodeAction, key: Any
) -> types.CodeAction:
    """Compute the chosen action's edit; on failure show why and return it without an edit."""
    if not isinstance(action.data, dict):
        return action
    try:
        args = parse_edit_args(action.data)
        doc, result, _ = await server.edits.compute(args, key)
        refusal = result.detail if not result.proposed else server.edits.refusal(doc, False)
        if refusal is None and not result.replacements:
            refusal = "the model proposed no change"
    except JsonRpcException as error:
        refusal = error.message
    if refusal is not None:
        server.show(f"{action.title}: {refusal}", types.MessageType.Warning)
        return action
    action.edit = server.edits.workspace_edit(doc, result)
    return action
