"""What a handler hands a service for one request: its id, the open documents, the settings in
force when it arrived, the model, the job registry and the editor.

The server builds one per request, so the services (edits, infill, code actions) never import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pygls.workspace import Workspace

from diffcoder.lsp_server.editor import Editor
from diffcoder.lsp_server.jobs import JobRegistry
from diffcoder.lsp_server.model_host import ModelHost
from diffcoder.lsp_server.settings import Settings


@dataclass(frozen=True)
class RequestContext:
    request_id: Any  # the JSON-RPC id: `$/cancelRequest` names it
    workspace: Workspace
    settings: Settings
    model: ModelHost
    jobs: JobRegistry
    editor: Editor
