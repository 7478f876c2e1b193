"""`DiffCoder: …` code actions: offered for free, computed only when chosen.

Every action's `data` is a `CodeActionData` (the edit's document, range and instruction), so a
client can run it its own way without resolving it (the VS Code extension opens its diff review).
Clients with `codeAction/resolve` for `edit` get the edit on resolve, annotated with
`needsConfirmation` where they support change annotations; others get a `diffcoder.edit`
command that computes and applies it. Never both: a client applies an action's edit and then
runs its command, which would run the edit twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import unquote

from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcInvalidParams
from pygls.workspace import Workspace

from diffcoder.editing.positions import LineIndex
from diffcoder.lsp_server import edits
from diffcoder.lsp_server.context import RequestContext
from diffcoder.lsp_server.documents import RequestFailed
from diffcoder.lsp_server.protocol import EDIT_COMMAND, CodeActionData

logger = logging.getLogger(__name__)
_converter = get_converter()
MAX_DIAGNOSTIC_ACTIONS = 5  # "Fix" actions for the first diagnostics of the context only


def _wanted(kind: types.CodeActionKind, only: list[str] | None) -> bool:
    if not only:
        return True
    return any(kind.value == o or kind.value.startswith(f"{o}.") for o in only)


def code_actions(
    params: types.CodeActionParams,
    *,
    workspace: Workspace,
    instructions: Sequence[str],
    resolve: bool,
) -> list[types.CodeAction]:
    """One action per diagnostic (fix it) and per instruction; `resolve`: the client fills in
    the edit with `codeAction/resolve`, else each action carries a `diffcoder.edit` command."""
    uri = params.text_document.uri
    document = workspace.text_documents.get(unquote(uri))
    if document is None:
        logger.info("code actions for %s: not open", uri)
        return []
    _check_range(uri, document.source, params.range)
    only = [str(getattr(k, "value", k)) for k in (params.context.only or [])] or None

    def action(title, kind, instruction, where: types.Range, diagnostics=None) -> types.CodeAction:
        data = CodeActionData.model_validate(
            {
                "textDocument": {"uri": uri, "version": document.version},
                "range": _converter.unstructure(where),
                "instruction": instruction,
            }
        )
        found = types.CodeAction(title, kind=kind, diagnostics=diagnostics, data=data.to_json())
        if not resolve:
            arguments = [data.edit_args(apply=True)]
            found.command = types.Command(title, command=EDIT_COMMAND, arguments=arguments)
        return found

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
        for instruction in instructions:
            actions.append(action(f"DiffCoder: {instruction}", rewrite, instruction, params.range))
    return actions


def _check_range(uri: str, text: str, where: types.Range) -> None:
    """InvalidParams for a range past the end (text.count is cheap: each LF starts a line)."""
    last = max(where.start.line, where.end.line)
    if last <= text.count("\n"):
        return
    count = LineIndex(text).line_count
    if last >= count:
        raise JsonRpcInvalidParams(
            f"range line {last} is outside {uri}: the document has {count} lines "
            f"(0 to {count - 1}); send a range inside it"
        )


async def resolve_code_action(ctx: RequestContext, action: types.CodeAction) -> types.CodeAction:
    """Compute the chosen action's edit; when it cannot be computed, show why (the user chose
    it) and return the action without an edit. Data that is not a DiffCoder action's is the
    client's mistake: InvalidParams."""
    if action.data is None:
        return action  # nothing to resolve (an action that carries its command)
    if not isinstance(action.data, dict):
        raise JsonRpcInvalidParams(
            "codeAction/resolve: data is not a DiffCoder action's; send the action back as "
            "textDocument/codeAction gave it"
        )
    try:
        outcome = await edits.resolve_edit(ctx, action.data)
    except RequestFailed as error:
        ctx.editor.show(f"{action.title}: {error.message}", types.MessageType.Warning)
        return action
    if outcome.outcome != "proposed" or outcome.detail is not None:
        ctx.editor.show(f"{action.title}: {outcome.detail}", types.MessageType.Warning)
        return action
    action.edit = outcome.edit
    if action.edit is not None and ctx.editor.takes_change_annotations:
        action.edit = annotated(action.edit, action.title, str(action.data.get("instruction")))
    return action


ANNOTATION_ID = "diffcoder"


def annotated(edit: types.WorkspaceEdit, title: str, instruction: str) -> types.WorkspaceEdit:
    """`edit` with every text edit under one change annotation that asks the user to confirm
    it (`needsConfirmation`): the client shows it for review before it lands."""

    def mark(edits: Sequence[types.TextEdit]) -> list[types.TextEdit]:
        return [
            types.AnnotatedTextEdit(range=e.range, new_text=e.new_text, annotation_id=ANNOTATION_ID)
            for e in edits
        ]

    changes = None
    if edit.changes is not None:
        changes = {uri: mark(edits) for uri, edits in edit.changes.items()}
    document_changes = None
    if edit.document_changes is not None:
        document_changes = [
            types.TextDocumentEdit(text_document=change.text_document, edits=mark(change.edits))
            if isinstance(change, types.TextDocumentEdit)
            else change
            for change in edit.document_changes
        ]
    note = types.ChangeAnnotation(label=title, needs_confirmation=True, description=instruction)
    return types.WorkspaceEdit(
        changes=changes,
        document_changes=document_changes,
        change_annotations={ANNOTATION_ID: note},
    )
