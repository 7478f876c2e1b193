"""The editor at the other end of the connection, as the services see it: what it can do, and
the requests the server sends it (applyEdit, showMessage, progress bars).

Services take an `Editor` instead of the server, so they never import it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from diffcoder.lsp_server.work_done import WorkDone

logger = logging.getLogger(__name__)
CONFIGURATION_WAIT_S = 5.0  # how long to wait for the client's workspace/configuration answer


class Editor:
    def __init__(self, server: LanguageServer) -> None:
        self._server = server

    @property
    def capabilities(self) -> types.ClientCapabilities:
        return self._server.client_capabilities

    @property
    def takes_document_changes(self) -> bool:
        """Versioned `TextDocumentEdit`s (else only a `changes` map)."""
        workspace = self.capabilities.workspace
        edit = workspace.workspace_edit if workspace else None
        return bool(edit and edit.document_changes)

    @property
    def takes_change_annotations(self) -> bool:
        """Change annotations (`needsConfirmation`) in a `WorkspaceEdit`."""
        workspace = self.capabilities.workspace
        edit = workspace.workspace_edit if workspace else None
        return bool(edit and edit.change_annotation_support)

    @property
    def resolves_code_action_edits(self) -> bool:
        """`codeAction/resolve` may fill in `edit` (else an action carries a command)."""
        text = self.capabilities.text_document
        code_action = text.code_action if text else None
        support = code_action.resolve_support if code_action else None
        return bool(support and "edit" in support.properties)

    async def pull_settings(self) -> dict[str, Any] | None:
        """The client's `diffcoder` section via workspace/configuration (None when it has none)."""
        workspace = self.capabilities.workspace
        if not (workspace and workspace.configuration):
            return None
        params = types.ConfigurationParams(items=[types.ConfigurationItem(section="diffcoder")])
        try:
            pending = self._server.workspace_configuration_async(params)
            values = await asyncio.wait_for(pending, CONFIGURATION_WAIT_S)
        except Exception as error:  # a client that cannot answer keeps the settings it pushed
            logger.info("workspace/configuration failed: %s", error)
            return None
        value = values[0] if values else None
        return value if isinstance(value, dict) and value else None

    def show(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self._server.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def progress(self, title: str, *, cancellable: bool = False) -> WorkDone:
        return WorkDone(self._server, title, cancellable=cancellable)

    async def apply_edit(
        self, edit: types.WorkspaceEdit, label: str, timeout: float
    ) -> tuple[bool, str | None]:
        """`workspace/applyEdit`: (applied, why not)."""
        params = types.ApplyWorkspaceEditParams(edit=edit, label=label)
        try:
            pending = self._server.workspace_apply_edit_async(params)
            answer = await asyncio.wait_for(pending, timeout)
        except asyncio.TimeoutError:
            return False, f"the editor did not answer workspace/applyEdit within {timeout:g} s"
        except Exception as error:  # the client answered with an error
            return False, f"the editor refused workspace/applyEdit: {error}"
        if answer is None:
            return False, "the editor sent no answer to workspace/applyEdit"
        if not answer.applied:
            return False, answer.failure_reason or "the editor did not apply the edit"
        return True, None
