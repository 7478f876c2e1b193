"""The DiffCoder language server: its state, the feature table, and one thin handler per LSP
method that builds a `RequestContext` and calls a service (`edits`, `infill`, `code_actions`).

Services never import this module. No handler lets an exception escape unexplained.
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

from diffcoder import __version__
from diffcoder.lsp_server import code_actions, edits, infill
from diffcoder.lsp_server.context import RequestContext
from diffcoder.lsp_server.documents import InternalError, RequestFailed
from diffcoder.lsp_server.editor import Editor
from diffcoder.lsp_server.jobs import JobRegistry
from diffcoder.lsp_server.model_host import EngineLoader, ModelHost, load_engine
from diffcoder.lsp_server.protocol import (
    CANCEL_COMMAND,
    EDIT_COMMAND,
    LOAD_PROGRESS_TITLE,
    STATUS_REQUEST,
    CancelReply,
    InfillStats,
    StatusReply,
    cancel_target,
)
from diffcoder.lsp_server.rpc import DiffCoderProtocol
from diffcoder.lsp_server.settings import Settings, overlay_pulled, parse_settings
from diffcoder.model.embedded import DEMO_MODEL_DIR, demo_model_available

logger = logging.getLogger(__name__)


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
        self.jobs = JobRegistry()
        self.editor = Editor(self)
        # The last infill's timings, for diffcoder/status: an inline completion has no room.
        self.last_infill: InfillStats | None = None
        self._load_task: asyncio.Task | None = None
        self._background: set[asyncio.Future] = set()
        assert isinstance(self.protocol, DiffCoderProtocol)
        self.protocol.on_cancel_request = self.jobs.cancel_request
        self.protocol.on_document_gone = lambda uri, why: self.jobs.cancel(uri=uri, why=why)
        self.protocol.on_exit = self.stop_work

    def stop_work(self) -> None:
        """`shutdown` or the end of the session: every job stops, the model is let go."""
        self.jobs.close()
        self.model.close_model()

    def report_server_error(self, error: Exception, source: Any) -> None:
        # pygls's default shows "Error in server: ..." to the user; the protocol (rpc.py)
        # already logged and answered what reaches here.
        logger.warning("%s", error)

    def context(self) -> RequestContext:
        """What a service needs for the request being handled (call it in the handler)."""
        return RequestContext(
            request_id=self.protocol.msg_id,
            workspace=self.workspace,
            settings=self.settings,
            model=self.model,
            jobs=self.jobs,
            editor=self.editor,
        )

    def in_background(self, work: Any) -> None:
        """Run a coroutine after the current message; a bug in it is logged, never raised."""

        async def logged() -> None:
            try:
                await work
            except Exception:
                logger.exception("background work failed")

        task = asyncio.ensure_future(logged())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

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
            message = "DiffCoder settings: " + "; ".join(self.pending_problems)
            self.editor.show(message, types.MessageType.Warning)
            self.pending_problems.clear()

    def start_model_load(self) -> None:
        path = self.model_path()
        if path is None:
            logger.warning("no model configured")
            return
        # Jobs decoding on the model being replaced stop; those waiting get the new one.
        if self.jobs.cancel_running():
            logger.info("cancelled the running jobs: the model reloads")
        progress = self.editor.progress(LOAD_PROGRESS_TITLE)

        def on_end(reason: str) -> None:
            progress.end(reason)
            if self.model.state == "failed":
                self.editor.show(f"DiffCoder: {reason}", types.MessageType.Error)

        self._load_task = self.model.load(
            path, self.settings, on_begin=progress.begin, on_end=on_end
        )

    async def infill_at(
        self,
        uri: str,
        position: types.Position,
        selected: types.SelectedCompletionInfo | None = None,
    ) -> infill.Infill:
        found = await infill.infill(self.context(), uri, position, selected)
        if found.stats is not None:
            self.last_infill = found.stats
        return found


def guarded(handler):
    """Turn an unexpected exception into a clear error answer (requests) or message (the rest):
    out of memory is RequestFailed with advice, anything else a bug (InternalError, logged
    with its traceback)."""

    def explain(error: Exception) -> JsonRpcException:
        text = str(error)
        if "out of memory" in text.lower():
            return RequestFailed(
                "DiffCoder: the device ran out of memory; lower context.maxTokens or "
                f"edit.maxNewTokens, or use quant 4bit ({text.splitlines()[0][:200]})"
            )
        logger.exception("%s failed", handler.__name__)
        return InternalError(
            f"DiffCoder: internal error ({type(error).__name__}: {error}); see the server log"
        )

    if not inspect.iscoroutinefunction(handler):  # answered at once, in message order

        @functools.wraps(handler)
        def plain(ls: DiffCoderServer, *args: Any) -> Any:
            try:
                return handler(ls, *args)
            except JsonRpcException:
                raise
            except Exception as error:
                raise explain(error) from None

        return plain

    @functools.wraps(handler)
    async def wrapper(ls: DiffCoderServer, *args: Any) -> Any:
        try:
            return await handler(ls, *args)
        except (JsonRpcException, asyncio.CancelledError):
            raise
        except Exception as error:
            raise explain(error) from None

    return wrapper


def initialize(ls: DiffCoderServer, params: types.InitializeParams) -> None:
    ls.initial_options = params.initialization_options
    ls.apply_settings(params.initialization_options)


def initialized(ls: DiffCoderServer, params: types.InitializedParams) -> None:
    """Synchronous, so a request right behind `initialized` sees the model loading."""
    ls.flush_problems()
    ls.start_model_load()  # at once; pulled settings that name another model reload it
    ls.in_background(pull_and_reconfigure(ls, overlay=True))


def workspace_did_change_configuration(
    ls: DiffCoderServer, params: types.DidChangeConfigurationParams
) -> None:
    """Pushed settings apply at once (a request right behind sees them); pull-model clients
    (VS Code) send none here: they are asked for them."""
    if params.settings:
        ls.reconfigure(params.settings)
    else:
        ls.in_background(pull_and_reconfigure(ls, overlay=False))


async def pull_and_reconfigure(ls: DiffCoderServer, *, overlay: bool) -> None:
    pulled = await ls.editor.pull_settings()
    if pulled is not None:
        ls.reconfigure(overlay_pulled(ls.initial_options, pulled) if overlay else pulled)


async def diffcoder_edit(ls: DiffCoderServer, *args: Any) -> dict[str, Any]:
    outcome = await edits.execute(ls.context(), list(args))
    return outcome.reply().to_json()


def diffcoder_cancel(ls: DiffCoderServer, *args: Any) -> dict[str, Any]:
    uri = cancel_target(args)
    count = ls.jobs.cancel_all() if uri is None else ls.jobs.cancel(uri=uri)
    return CancelReply(cancelled=count).to_json()


def text_document_code_action(
    ls: DiffCoderServer, params: types.CodeActionParams
) -> list[types.CodeAction]:
    return code_actions.code_actions(
        params,
        workspace=ls.workspace,
        instructions=ls.settings.edit.instructions,
        resolve=ls.editor.resolves_code_action_edits,
    )


async def code_action_resolve(ls: DiffCoderServer, params: types.CodeAction) -> types.CodeAction:
    return await code_actions.resolve_code_action(ls.context(), params)


async def text_document_inline_completion(
    ls: DiffCoderServer, params: types.InlineCompletionParams
) -> types.InlineCompletionList | None:
    if not ls.settings.inline.enabled:
        return None
    selected = params.context.selected_completion_info  # rpc.py made it readable (params.py)
    found = await ls.infill_at(params.text_document.uri, params.position, selected)
    return infill.inline_items(found)


async def text_document_completion(
    ls: DiffCoderServer, params: types.CompletionParams
) -> types.CompletionList | None:
    if not ls.settings.completion.enabled:
        return None
    return infill.completion_items(await ls.infill_at(params.text_document.uri, params.position))


def window_work_done_progress_cancel(
    ls: DiffCoderServer, params: types.WorkDoneProgressCancelParams
) -> None:
    ls.jobs.cancel(token=str(params.token))


def diffcoder_status(ls: DiffCoderServer, params: Any) -> dict[str, Any]:
    reply = StatusReply(
        model=ls.model.describe(),
        in_flight=ls.jobs.in_flight,
        last_infill=ls.last_infill,
        settings=ls.settings.model_dump(by_alias=True),
    )
    return reply.to_json()


def shutdown(ls: DiffCoderServer, params: Any) -> None:
    ls.stop_work()


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
