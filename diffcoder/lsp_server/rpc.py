"""JSON-RPC on top of pygls, hardened: every request gets one answer (a result, or an error with
the right code) and a client's mistake costs one log line, never a traceback or a popup.

pygls 2 leaves some requests unanswered (params it cannot structure, anything after `shutdown`),
logs every error answer as an ERROR traceback and shows "Error in server: …" for a notification it
cannot handle. `DiffCoderProtocol` takes over those paths, the lifecycle rules (nothing before
`initialize`, `initialize` once, only `exit` after `shutdown`, `exit` code 0 or 1) and document
sync (`sync.py`); the rest is pygls's. Errors a client can get: docs/lsp.md, "Errors".
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import cattrs
from lsprotocol import types
from pydantic.alias_generators import to_camel
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
)
from pygls.protocol.language_server import lsp_method

from diffcoder.lsp_server import sync
from diffcoder.lsp_server.documents import InternalError
from diffcoder.lsp_server.jobs import cancelled_request_id
from diffcoder.lsp_server.params import normalise as normalise_params

logger = logging.getLogger(__name__)
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
SERVER_NOT_INITIALIZED, REQUEST_CANCELLED = -32002, -32800


class Malformed:
    """A message that could not be structured, kept raw with what is wrong in words."""

    jsonrpc = "2.0"

    def __init__(self, data: Any, problem: str, code: int = INVALID_PARAMS) -> None:
        self.data = data if isinstance(data, dict) else {}
        self.problem, self.code = problem, code
        method = self.data.get("method")
        self.method = method if isinstance(method, str) else None
        msg_id = self.data.get("id")
        valid = isinstance(msg_id, (str, int)) and not isinstance(msg_id, bool)
        self.id = msg_id if valid else None


def describe(error: Exception) -> str:
    """cattrs' complaints in one line, with the wire's camelCase names."""
    if not isinstance(error, cattrs.BaseValidationError):
        return f"{type(error).__name__}: {error}"
    parts = []
    for text in cattrs.transform_error(error):
        what, _, where = text.partition(" @ $.")
        path = ".".join(to_camel(part) for part in where.split(".")) if where else "message"
        parts.append(f"{path}: {what}")
    return "; ".join(parts)


class DiffCoderProtocol(LanguageServerProtocol):
    """pygls's protocol with the hardening above; the server sets the three hooks."""

    on_cancel_request: Callable[[Any], None] | None = None  # `$/cancelRequest` (see jobs.py)
    on_document_gone: Callable[[str, str], None] | None = None  # (uri, why): closed or reopened
    on_exit: Callable[[], None] | None = None  # the session ends: stop every job

    def __init__(self, server: Any, converter: Any) -> None:
        super().__init__(server, converter)
        self.exit_code: int | None = None  # set by `exit` (or the end of input): stop reading
        self._initialize_seen = False
        self._initialized_seen = False
        self._labels: dict[Any, str] = {}  # request id -> what to call it in the log

    # -- reading ----------------------------------------------------------------------------
    def receive(self, body: bytes) -> None:
        """One framed message from the client; never raises (the server stays up)."""
        try:
            data = json.loads(body)
        except ValueError as error:
            self.refuse(None, PARSE_ERROR, f"the message is not JSON ({error})")
            return
        problem = None
        if not isinstance(data, dict) or data.get("jsonrpc") != "2.0":
            problem = "a message is one JSON object with jsonrpc: 2.0 (batches are not supported)"
        elif "id" in data and "method" in data and Malformed(data, "").id is None:
            problem = f"a request's id is a string or a number, not {data['id']!r}"
        if problem is not None:
            self.handle_message(Malformed(data, problem, INVALID_REQUEST))
            return
        try:
            self.handle_message(self.structure_message(data))
        except Exception as error:  # a bug: say so, answer, keep serving
            logger.exception("a message could not be handled: %s", str(body[:200]))
            if "method" in data and isinstance(data.get("id"), (str, int)):
                self.refuse(data["id"], InternalError.CODE, f"DiffCoder: internal error ({error})")

    def structure_message(self, data: Any) -> Any:
        if not isinstance(data, dict) or "jsonrpc" not in data:
            return data
        if "method" in data and "params" not in data:
            data = {**data, "params": None}  # custom requests such as diffcoder/status
        elif "method" in data:  # what real clients send, as the protocol wants it (params.py)
            data = {**data, "params": normalise_params(data["method"], data["params"])}
        try:
            if "id" in data and "error" in data:
                return self._converter.structure(data, types.ResponseErrorMessage)
            if "id" in data and "method" in data:
                kind = self.get_message_type(data["method"]) or JsonRPCRequestMessage
            elif "id" in data:
                kind = self._result_types.pop(data["id"], None) or JsonRPCResponseMessage
            else:
                kind = self.get_message_type(data.get("method", "")) or JsonRPCNotification
            return self._converter.structure(data, kind)
        except Exception as error:
            return Malformed(data, describe(error))

    def handle_message(self, message: Any) -> None:
        request_id = cancelled_request_id(message)
        if request_id is not None and self.on_cancel_request is not None:
            self.on_cancel_request(request_id)
        if isinstance(message, Malformed):
            self._malformed(message)
            return
        method = getattr(message, "method", None)
        if method is None:  # an answer to the server's request: welcome even after shutdown
            error = getattr(message, "error", None)
            self._handle_response(message.id, getattr(message, "result", None), error)
            return
        is_request = hasattr(message, "id")
        if not self._admit(method, message.id if is_request else None, is_request):
            return
        if is_request:
            self._labels[message.id] = self._label(method, message.params)
        super().handle_message(message)

    def _admit(self, method: str, msg_id: Any, is_request: bool, *, commit: bool = True) -> bool:
        """The lifecycle rules; a refused request is answered, a refused notification logged."""
        code, text = None, ""
        if method == types.EXIT:
            return True
        if self._shutdown:
            code, text = INVALID_REQUEST, f"{method} after shutdown: only exit is accepted now"
        elif not self._initialize_seen and method != types.INITIALIZE:
            code, text = SERVER_NOT_INITIALIZED, f"{method} before initialize: send it first"
        elif method == types.INITIALIZE and self._initialize_seen:
            code, text = INVALID_REQUEST, "initialize was already received; it is sent once"
        elif method == types.INITIALIZED and self._initialized_seen:
            code, text = INVALID_REQUEST, "initialized was already received; it is sent once"
        elif not self._handles(method):
            code, text = METHOD_NOT_FOUND, f"{method} is not a method of this server"
        if code is None:
            if commit:
                self._initialize_seen |= method == types.INITIALIZE
                self._initialized_seen |= method == types.INITIALIZED
            return True
        if is_request:
            self.refuse(msg_id, code, text, method)
        elif code == METHOD_NOT_FOUND or self._shutdown:
            logger.info("ignored the notification %s", text)
        else:
            logger.warning("ignored a notification: %s", text)
        return False

    def _handles(self, method: str) -> bool:
        if method.startswith("notebookDocument/"):  # pygls's, but not offered: no notebooks
            return False
        known = (self.fm.builtin_features, self.fm.features)
        return method == types.CANCEL_REQUEST or any(method in table for table in known)

    def _malformed(self, message: Malformed) -> None:
        data, method = message.data, message.method
        if method is None and message.id is not None and "method" not in data:
            future = self._request_futures.pop(message.id, None)  # the client's answer
            if future is not None and not future.done():
                future.set_exception(JsonRpcException(f"unreadable answer: {message.problem}"))
            logger.warning("unreadable answer to request %s: %s", message.id, message.problem)
            return
        is_request = "id" in data
        if method is None or message.code == INVALID_REQUEST:
            text = f"not a JSON-RPC 2.0 message: {message.problem}"
            if is_request or method is None:
                self.refuse(message.id, INVALID_REQUEST, text, method)
            else:
                logger.warning("ignored %s: %s", method, text)
        elif self._admit(method, message.id, is_request, commit=False):
            text = f"{method}: invalid params: {message.problem}"
            if is_request:
                self.refuse(message.id, INVALID_PARAMS, text, method)
                return
            logger.warning("ignored a notification: %s", text)
            if method == types.TEXT_DOCUMENT_DID_CHANGE:
                why = "a didChange was unreadable"
                sync.mark_out_of_sync(self.workspace, data.get("params"), why)

    @staticmethod
    def _label(method: str, params: Any) -> str:
        if method == types.WORKSPACE_EXECUTE_COMMAND:
            return str(getattr(params, "command", method))
        return method

    # -- answering ----------------------------------------------------------------------------
    def refuse(self, msg_id: Any, code: int, message: str, label: str | None = None) -> None:
        """Answer a request with an error, logged as one line."""
        known = self._labels.pop(msg_id, None) if msg_id is not None else None
        label = known or label or "a message"
        level = logging.INFO if code == REQUEST_CANCELLED else logging.WARNING
        logger.log(level, "%s (id %s) answered with error %s: %s", label, msg_id, code, message)
        # a plain dict: lsprotocol's message would drop `"id": null`, which JSON-RPC requires
        error = {"code": code, "message": message}
        self._send_data({"jsonrpc": "2.0", "id": msg_id, "error": error})

    def notify_json(self, method: str, params: dict[str, Any]) -> None:
        """A notification whose params are sent as given (pygls would read them into lsprotocol's
        type for `method`, dropping keys it does not know: see work_done.report_with)."""
        self._send_data({"jsonrpc": "2.0", "method": method, "params": params})

    def _send_handler_result(self, future: Any, *, msg_id: Any) -> None:
        self._request_futures.pop(msg_id, None)
        if future.cancelled():
            self.refuse(msg_id, REQUEST_CANCELLED, f"request {msg_id} was cancelled")
            return
        error = future.exception()
        if error is None:
            self._labels.pop(msg_id, None)
            self._send_response(msg_id, result=future.result())
            return
        if not isinstance(error, JsonRpcException):
            label = self._labels.get(msg_id, "a request")
            logger.error("%s (id %s) failed", label, msg_id, exc_info=error)
            error = InternalError(f"DiffCoder: internal error ({type(error).__name__}: {error})")
        elif logger.isEnabledFor(logging.DEBUG) and not isinstance(error, InternalError):
            logger.debug("where request %s was refused", msg_id, exc_info=error)
        self.refuse(msg_id, error.code, error.message)

    def _run_generator(self, future: Any, *, gen: Any, result_future: Any) -> None:
        if result_future.cancelled() and future is not None and not future.cancelled():
            future.exception()  # a cancelled request's handler may still end in an error
        super()._run_generator(future, gen=gen, result_future=result_future)

    def _handle_notification(self, method_name: str, params: Any) -> None:
        if method_name == types.CANCEL_REQUEST:
            self._handle_cancel_notification(params.id)
            return
        self._execute_handler(
            msg_id=str(uuid.uuid4()),
            handler=self._get_handler(method_name),
            args=(params,),
            callback=partial(self._notification_done, method=method_name),
        )

    def _notification_done(self, future: Any, *, method: str) -> None:
        if future.cancelled() or (error := future.exception()) is None:
            return
        if isinstance(error, JsonRpcException) and not isinstance(error, InternalError):
            logger.warning("%s: %s", method, error.message)
            return
        if not isinstance(error, InternalError):
            logger.error("%s failed", method, exc_info=error)
        text = f"DiffCoder: internal error while handling {method}: {error} (see the server log)"
        params = types.ShowMessageParams(type=types.MessageType.Error, message=text)
        self._server.window_show_message(params)

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        future = self._request_futures.pop(msg_id, None)
        if future is None:  # it finished before the cancel arrived, or never existed
            logger.debug("$/cancelRequest for %s: no such request is running", msg_id)
        elif future.cancel():
            logger.info("cancelled request %s", msg_id)

    def _handle_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        future = self._request_futures.pop(msg_id, None)
        if future is None or future.done():  # the server stopped waiting (a timeout)
            logger.info("an answer to request %s came when nobody waited for it: ignored", msg_id)
        elif error is not None:
            future.set_exception(JsonRpcException.from_error(error))
        else:
            future.set_result(result)

    # -- lifecycle and documents ------------------------------------------------------------
    def finish(self) -> int:
        """The session is over (`exit`, or the input ended): the exit code, jobs stopped."""
        if self.exit_code is None:
            self.exit_code = 0 if self._shutdown else 1
            if self.exit_code:
                logger.warning("the client went away without shutdown: exit code 1")
            if self.on_exit is not None:
                self.on_exit()
        return self.exit_code

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> None:
        if not self._shutdown:
            logger.warning("exit without shutdown: exit code 1")
        self.exit_code = 0 if self._shutdown else 1
        if self.on_exit is not None:
            self.on_exit()

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(self, params: types.ExecuteCommandParams) -> Any:
        if params.command not in self.fm.commands:
            known = ", ".join(sorted(self.fm.commands))
            text = f"unknown command {params.command!r}; this server runs {known}"
            raise JsonRpcInvalidParams(text)
        return (yield from super().lsp_workspace__execute_command(params))

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> None:
        if sync.did_open(self.workspace, params):
            self._gone(params.text_document.uri, "reopened")

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> None:
        sync.did_change(self.workspace, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> None:
        if sync.did_close(self.workspace, params.text_document.uri):
            self._gone(params.text_document.uri, "closed")

    def _gone(self, uri: str, how: str) -> None:
        if self.on_document_gone is not None:
            self.on_document_gone(uri, f"cancelled: {uri} was {how}")
