"""`diffcoder eval edit --via lsp`: the edits go through a real `diffcoder-lsp` process over stdio.

`LspBackend` starts `python -m diffcoder.lsp_server --model DIR` as a subprocess, initializes it
as an LSP client would, waits until `diffcoder/status` says the model is ready, and then for each
problem opens `program.py`, runs `workspace/executeCommand diffcoder.edit` with `apply: false`,
applies the returned `WorkspaceEdit` itself and closes the document. The weights load only in the
server. The synchronous client in `diffcoder.lsp_server.client` keeps the backend's interface
the same as `DirectBackend`'s.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from diffcoder.evaluation.edit_eval import BackendUnavailable, EditOutcome, EditTarget
from diffcoder.lsp_server.client import LspClient, LspError, apply_workspace_edit, lsp_position

logger = logging.getLogger(__name__)
EDIT_COMMAND = "diffcoder.edit"
STATUS_REQUEST = "diffcoder/status"
# The document every problem is opened as. A non-file URI, so the server's idea of its path is
# exactly "program.py", the path `DirectBackend` puts in its prompts.
DOCUMENT_URI = "untitled:program.py"
# The server caps an edit's answer at edit.maxNewTokens (256 by default, for editor latency); the
# direct pipeline has no cap beyond the prompt's own allowance, so the evaluation lifts it.
INITIALIZATION_OPTIONS: dict[str, Any] = {
    "edit": {"maxNewTokens": 4096},
    "inline": {"enabled": False},
    "completion": {"enabled": False},
}
CLIENT_CAPABILITIES: dict[str, Any] = {
    "general": {"positionEncodings": ["utf-16"]},
    "workspace": {"workspaceEdit": {"documentChanges": True}, "applyEdit": False},
    "window": {"workDoneProgress": False},
}


class LspServerError(BackendUnavailable):
    """The server answered an error, went away, or did not answer in time (the CLI reports it
    with exit status 2, like a server that could not start)."""


def lsp_refusal(samples: int, temperature: float) -> str | None:
    """Why `--via lsp` cannot run these sampling settings (None when it can)."""
    if samples > 1 or temperature > 0:
        return (
            f"--via lsp decodes greedily (the server has no temperature or seed setting), so it "
            f"cannot draw --samples {samples} at --temperature {temperature:g}; use --samples 1 "
            "without --temperature, or --via direct for sampling"
        )
    return None


class LspBackend:
    """The edit pipeline behind the real language server, driven over stdio."""

    name = "lsp"

    def __init__(
        self,
        model: str | None,
        *,
        device: str | None = None,
        quant: str | None = None,
        env: Mapping[str, str] | None = None,
        launcher: Sequence[str] | None = None,
        load_timeout: float = 1800.0,
        request_timeout: float | None = None,
    ) -> None:
        # `launcher`: the server command before its options (tests start a scripted server).
        command = list(launcher or [sys.executable, "-m", "diffcoder.lsp_server"])
        if model is not None:  # else the server's own default, the embedded demo model
            command += ["--model", str(model)]
        command += [f"--{k}={v}" for k, v in (("device", device), ("quant", quant)) if v]
        self.command = command
        self.request_timeout = request_timeout
        self.encoding = "utf-16"
        self._opened = 0
        # The server's log goes to a file: a pipe nobody reads could fill up and stall it.
        self._log = tempfile.TemporaryFile(prefix="diffcoder-lsp-eval-")  # noqa: SIM115
        self.model: dict[str, Any] = {}  # diffcoder/status's `model` once it is ready
        try:
            self.client = LspClient(
                command, env=dict(env) if env is not None else None, log=self._log
            )
        except OSError as error:
            self._log.close()
            raise BackendUnavailable(f"cannot start {self.command[0]}: {error}") from None
        self.client.handlers["workspace/applyEdit"] = lambda params: {
            "applied": False,
            "failureReason": "the evaluation applies edits",
        }
        self.process = self.client.process
        try:
            self._initialize(load_timeout)
        except BaseException:
            self.close()
            raise

    def log_tail(self, limit: int = 2000) -> str:
        """The end of the server's stderr (its log), for error messages."""
        try:
            self._log.seek(0)
            return self._log.read().decode("utf-8", "replace")[-limit:]
        except (OSError, ValueError):
            return ""

    def _failure(self, what: str) -> BackendUnavailable:
        shown = "; ".join(self.client.messages[-3:])
        detail = f"\nserver messages: {shown}" if shown else ""
        return BackendUnavailable(f"{what}{detail}\nserver log tail:\n{self.log_tail()}")

    def _initialize(self, load_timeout: float) -> None:
        try:
            result = self.client.initialize(None, INITIALIZATION_OPTIONS, CLIENT_CAPABILITIES)
        except LspError as error:
            raise self._failure(f"the diffcoder-lsp server did not start: {error}") from None
        capabilities = (result or {}).get("capabilities") or {}
        self.encoding = capabilities.get("positionEncoding") or "utf-16"
        try:
            status = self.client.wait_until_ready(load_timeout)
        except LspError as error:
            raise self._failure(
                f"diffcoder-lsp stopped or stalled while loading: {error}"
            ) from None
        if status["model"]["state"] != "ready":
            raise self._failure(f"diffcoder-lsp has no model: {status['model'].get('detail')}")
        self.model = status["model"]

    def _range(self, text: str, target: EditTarget) -> dict[str, Any]:
        def position(offset: int) -> dict[str, int]:
            return lsp_position(text, offset, self.encoding)

        if target.selection is not None:
            start, end = target.selection
            return {"range": {"start": position(start), "end": position(end)}}
        if target.cursor is not None:
            return {"position": position(target.cursor)}
        return {}

    def edit(
        self, text: str, instruction: str, target: EditTarget, *, temperature: float, seed: int
    ) -> EditOutcome:
        refusal = lsp_refusal(1, temperature)
        if refusal is not None:
            raise ValueError(refusal)
        self._opened += 1
        version = self._opened  # a fresh version each time the document is opened
        arguments = {
            "textDocument": {"uri": DOCUMENT_URI, "version": version},
            "instruction": instruction,
            "apply": False,
            **self._range(text, target),
        }
        params = {"command": EDIT_COMMAND, "arguments": [arguments]}
        try:
            self.client.open(DOCUMENT_URI, text, version=version)
            answer, seconds = self.client.timed(
                "workspace/executeCommand", params, self.request_timeout
            )
        except LspError as error:
            raise LspServerError(f"{error}\nserver log tail:\n{self.log_tail()}") from None
        finally:
            if not self.client.closed:
                with contextlib.suppress(LspError):
                    self.client.notify(
                        "textDocument/didClose", {"textDocument": {"uri": DOCUMENT_URI}}
                    )
        return self._outcome(text, answer, seconds)

    def _outcome(self, text: str, answer: dict[str, Any], seconds: float) -> EditOutcome:
        stats = answer.get("stats") or {}
        rejected = answer.get("rejected")
        new_text = (
            text
            if rejected
            else apply_workspace_edit(text, answer.get("edit"), DOCUMENT_URI, self.encoding)
        )
        forwards = int(stats.get("forwards", 0))
        generated = int(stats.get("generatedTokens", 0))
        return EditOutcome(
            new_text=new_text,
            rejected=rejected,
            finish_reason=str(answer.get("finishReason")),
            region_kind=str((answer.get("region") or {}).get("kind")),
            nfe=forwards,
            generated_tokens=generated,
            tokens_per_forward=generated / forwards if forwards else 0.0,
            seconds=seconds,
            draft_accepted_tokens=int(stats.get("draftAcceptedTokens", 0)),
            model_seconds=float(stats.get("modelSeconds", 0.0)),
        )

    def close(self) -> None:
        """Shut the server down (shutdown, exit), killing it if it does not go; idempotent."""
        if not self._log.closed:
            self.client.close(timeout=10.0)
            self._log.close()
