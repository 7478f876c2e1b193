"""Work-done progress (`window/workDoneProgress/create` + `$/progress`) for long requests.

Silently does nothing for clients that do not announce `window.workDoneProgress`; reports may come
from the model thread, so they hop onto the event loop first.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

logger = logging.getLogger(__name__)
CREATE_WAIT_S = 5.0  # how long to wait for the client to accept a progress bar


def client_supports_progress(server: LanguageServer) -> bool:
    window = server.client_capabilities.window
    return bool(window and window.work_done_progress)


class WorkDone:
    """One progress bar; `report` is thread-safe and only sends when the percentage moves."""

    def __init__(self, server: LanguageServer, title: str, *, cancellable: bool = False) -> None:
        self.server = server
        self.title = title
        self.cancellable = cancellable
        self.token: str | None = None
        self.loop = asyncio.get_running_loop()
        self._last: int | None = None

    async def begin(self, message: str | None = None) -> None:
        if not client_supports_progress(self.server):
            return
        token = f"diffcoder-{uuid.uuid4()}"
        try:
            await asyncio.wait_for(
                self.server.work_done_progress.create_async(token), CREATE_WAIT_S
            )
        except Exception as error:  # a client that refuses progress still gets its answer
            logger.info("no progress bar: %s", error)
            return
        self.token = token
        begin = types.WorkDoneProgressBegin(
            title=self.title, message=message, percentage=0, cancellable=self.cancellable
        )
        self.server.work_done_progress.begin(token, begin)

    def report(self, percentage: int, message: str | None = None) -> None:
        if self.token is None or percentage == self._last:
            return
        self._last = percentage
        value = types.WorkDoneProgressReport(percentage=percentage, message=message)
        self.loop.call_soon_threadsafe(self.server.work_done_progress.report, self.token, value)

    def report_with(self, percentage: int, message: str, extra: dict[str, Any]) -> None:
        """A report with keys of its own besides WorkDoneProgressReport's (clients that do not
        know them read the usual ones); thread-safe like `report`."""
        if self.token is None:
            return
        self._last = percentage
        value = {"kind": "report", "percentage": percentage, "message": message, **extra}
        params = {"token": self.token, "value": value}
        send = getattr(self.server.protocol, "notify_json", None)  # rpc.DiffCoderProtocol's
        if send is not None:
            self.loop.call_soon_threadsafe(send, types.PROGRESS, params)

    def end(self, message: str | None = None) -> None:
        if self.token is None:
            return
        value = types.WorkDoneProgressEnd(message=message)
        self.loop.call_soon_threadsafe(self.server.work_done_progress.end, self.token, value)
        self.token = None
