"""The DiffCoder language server: a pygls `LanguageServer` and its handlers, one per LSP method.

Handlers are short: documents and settings here, edits in `edits`/`code_actions`, infill in
`infill`, the model in `model_host`. No handler lets an exception escape unexplained.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from diffcoder import __version__
from diffcoder.lsp_server.code_actions import EDIT_COMMAND, code_actions, resolve_code_action
from diffcoder.lsp_server.documents import RequestFailed
from diffcoder.lsp_server.edits import EditService
from diffcoder.lsp_server.infill import InfillService
from diffcoder.lsp_server.model_host import EngineLoader, ModelHost, load_engine
from diffcoder.lsp_server.settings import Settings, parse_settings
from diffcoder.lsp_server.work_done import WorkDone
from diffcoder.model.embedded import DEMO_MODEL_DIR, demo_model_available

logger = logging.getLogger(__name__)
CANCEL_COMMAND = "diffcoder.cancel"
STATUS_REQUEST = "diffcoder/status"


class DiffCoderProtocol(LanguageServerProtocol):
    def _handle_cancel_notification(self, msg_id):
        # pygls cancels only a request's outer future; the decoding behind it must stop too.
        super()._handle_cancel_notification(msg_id)
        server = self._server
        if isinstance(server, DiffCoderServer) and server.edits.cancel(msg_id):
            logger.info("cancelled the decoding of request %s", msg_id)


class DiffCoderServer(LanguageServer):
    def __init__(
        self,
        *,
        model_path: str | None = None,
        engine_loader: EngineLoader = load_engine,
        demo_model: bool = True,
    ):
        super().__init__("diffcoder-lsp", __version__, protocol_cls=DiffCoderProtocol)
        self.cli_model_path = model_path
        self.demo_model = demo_model
        self.cli_overrides: dict[str, Any] = {}
        self.settings = Settings()
        self.pending_problems: list[str] = []
        self.initial_options: Any = None
        self.model = ModelHost(engine_loader)
        self.edits = EditService(self)
        self.infill = InfillService(self)
        self._load_task: asyncio.Task | None = None

    def show(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def request_id(self) -> Any:
        return self.protocol.msg_id

    def model_path(self) -> str | None:
        """The editor's modelPath, else --model, else the embedded demo model (when shipped)."""
        chosen = self.settings.model_path or self.cli_model_path
        if chosen is None and self.demo_model and demo_model_available():
            return str(DEMO_MODEL_DIR)
        return chosen

    def apply_settings(self, raw: Any) -> None:
        settings, problems = parse_settings(raw)
        if self.cli_overrides:
            # Explicit command-line options win over editor settings that leave them unset.
            given = settings.model_fields_set
            unset = {k: v for k, v in self.cli_overrides.items() if k not in given}
            settings = settings.model_copy(update=unset)
        self.settings = settings
        self.pending_problems.extend(problems)

    def reconfigure(self, raw: Any) -> None:
        """New settings; the model reloads when its path, quantization or device changed."""
        before = (self.model_path(), self.settings.quant, self.settings.device)
        self.apply_settings(raw)
        self.flush_problems()
        if (self.model_path(), self.settings.quant, self.settings.device) != before:
            self.start_model_load()

    def flush_problems(self) -> None:
        if self.pending_problems:
            self.show(
                "DiffCoder settings: " + "; ".join(self.pending_problems), types.MessageType.Warning
            )
            self.pending_problems.clear()

    def start_model_load(self) -> None:
        path = self.model_path()
        if path is None:
            logger.warning("no model configured")
            return
        progress = WorkDone(self, "Loading Stable-DiffCoder…")

        def on_end(reason: str) -> None:
            progress.end(reason)
            if self.model.state == "failed":
                self.show(f"DiffCoder: {reason}", types.MessageType.Error)

        self._load_task = self.model.load(
            path, self.settings, on_begin=progress.begin, on_end=on_end
        )


def guarded(handler):
    """Turn an unexpected exception into a clear error answer (requests) or message (the rest)."""

    def explain(error: Exception) -> RequestFailed:
        logger.exception("%s failed", handler.__name__)
        text = str(error)
        if "out of memory" in text.lower():
            return RequestFailed(
                "DiffCoder: the device ran out of memory; lower context.maxTokens or "
                f"edit.maxNewTokens, or use quant 4bit ({text.splitlines()[0][:200]})"
            )
        return RequestFailed(f"DiffCoder: internal error ({type(error).__name__}: {error})")

    @functools.wraps(handler)
    async def wrapper(ls: DiffCoderServer, *args: Any) -> Any:
        try:
            result = handler(ls, *args)
            return await result if inspect.isawaitable(result) else result
        except (JsonRpcException, asyncio.CancelledError):
            raise
        except Exception as error:
            raise explain(error) from None

    return wrapper


async def pull_settings(ls: DiffCoderServer) -> dict[str, Any] | None:
    """The client's `diffcoder` section via workspace/configuration (None when it has none)."""
    workspace = ls.client_capabilities.workspace
    if not (workspace and workspace.configuration):
        return None
    params = types.ConfigurationParams(items=[types.ConfigurationItem(section="diffcoder")])
    try:
        values = await asyncio.wait_for(ls.workspace_configuration_async(params), 5.0)
    except Exception as error:  # a client that cannot answer keeps the settings it pushed
        logger.info("workspace/configuration failed: %s", error)
        return None
    value = values[0] if values else None
    return value if isinstance(value, dict) and value else None


def initialize(ls: DiffCoderServer, params: types.InitializeParams) -> None:
    ls.initial_options = params.initialization_options
    ls.apply_settings(params.initialization_options)


async def initialized(ls: DiffCoderServer, params: types.InitializedParams) -> None:
    ls.flush_problems()
    ls.start_model_load()  # at once; pulled settings that name another model reload it
    pulled = await pull_settings(ls)
    if pulled is not None:
        ls.reconfigure(_merged(ls.initial_options, pulled))


def _merged(options: Any, pulled: dict[str, Any]) -> Any:
    """initializationOptions overlaid with the pulled section (pulled values win)."""
    if isinstance(options, dict) and isinstance(options.get("diffcoder"), dict):
        options = options["diffcoder"]
    base = dict(options) if isinstance(options, dict) else {}
    for key, value in pulled.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            value = {**base[key], **value}
        base[key] = value
    return base


async def workspace_did_change_configuration(
    ls: DiffCoderServer, params: types.DidChangeConfigurationParams
) -> None:
    raw = params.settings
    if not raw:
        # Pull-model clients (VS Code) send no settings here: ask for them.
        raw = await pull_settings(ls)
        if raw is None:
            return
    ls.reconfigure(raw)


async def diffcoder_edit(ls: DiffCoderServer, *args: Any) -> dict[str, Any]:
    return await ls.edits.execute(list(args), ls.request_id())


def diffcoder_cancel(ls: DiffCoderServer, *args: Any) -> dict[str, Any]:
    uri = None
    if args and isinstance(args[0], dict):
        uri = (args[0].get("textDocument") or {}).get("uri")
    return {"cancelled": ls.infill.cancel(uri) + ls.edits.cancel(uri=uri)}


def text_document_code_action(
    ls: DiffCoderServer, params: types.CodeActionParams
) -> list[types.CodeAction]:
    return code_actions(ls, params)


async def code_action_resolve(ls: DiffCoderServer, params: types.CodeAction) -> types.CodeAction:
    return await resolve_code_action(ls, params, ls.request_id())


async def text_document_inline_completion(
    ls: DiffCoderServer, params: types.InlineCompletionParams
) -> types.InlineCompletionList | None:
    return await ls.infill.inline_completion(params, ls.request_id())


async def text_document_completion(
    ls: DiffCoderServer, params: types.CompletionParams
) -> types.CompletionList | None:
    return await ls.infill.completion(params, ls.request_id())


def window_work_done_progress_cancel(
    ls: DiffCoderServer, params: types.WorkDoneProgressCancelParams
) -> None:
    key = ls.edits.tokens.get(str(params.token))
    if key is not None:
        ls.edits.cancel(key)


def diffcoder_status(ls: DiffCoderServer, params: Any) -> dict[str, Any]:
    return {
        "model": ls.model.describe(),
        "inFlight": len(ls.edits.jobs),
        "lastInfill": ls.infill.last_stats,
        "settings": ls.settings.model_dump(by_alias=True),
    }


def shutdown(ls: DiffCoderServer, params: Any) -> None:
    ls.edits.cancel()
    ls.infill.cancel()
    ls.model.close()


def create_server(
    model_path: str | None = None,
    *,
    engine_loader: EngineLoader = load_engine,
    overrides: dict[str, Any] | None = None,
    demo_model: bool = True,
) -> DiffCoderServer:
    """A server ready to start; `engine_loader(path, settings)` is the hook tests use to decode
    with a scripted engine (see tests/lsp/scripted_server.py)."""
    ls = DiffCoderServer(model_path=model_path, engine_loader=engine_loader, demo_model=demo_model)
    ls.cli_overrides = dict(overrides or {})
    ls.settings = Settings().model_copy(update=ls.cli_overrides)
    code_action_options = types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.RefactorRewrite, types.CodeActionKind.QuickFix],
        resolve_provider=True,
    )
    # pygls advertises inlineCompletionProvider only when it is given options.
    inline_options = types.InlineCompletionOptions()
    features: list[tuple[str, Any, Any]] = [
        (types.INITIALIZE, initialize, None),
        (types.INITIALIZED, initialized, None),
        (types.WORKSPACE_DID_CHANGE_CONFIGURATION, workspace_did_change_configuration, None),
        (types.TEXT_DOCUMENT_CODE_ACTION, text_document_code_action, code_action_options),
        (types.CODE_ACTION_RESOLVE, code_action_resolve, None),
        (types.TEXT_DOCUMENT_INLINE_COMPLETION, text_document_inline_completion, inline_options),
        (types.TEXT_DOCUMENT_COMPLETION, text_document_completion, types.CompletionOptions()),
        (types.WINDOW_WORK_DONE_PROGRESS_CANCEL, window_work_done_progress_cancel, None),
        (types.SHUTDOWN, shutdown, None),
        (STATUS_REQUEST, diffcoder_status, None),
    ]
    for method, handler, options in features:
        ls.feature(method, options)(guarded(handler))
    ls.command(EDIT_COMMAND)(guarded(diffcoder_edit))
    ls.command(CANCEL_COMMAND)(guarded(diffcoder_cancel))
    return ls
