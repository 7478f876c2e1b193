"""The two ways `diffcoder eval edit` turns (program, instruction, target) into an edited program:
`DirectBackend` calls `run_edit` in this process; `LspBackend` (`--via lsp`) drives a real
`diffcoder-lsp` process over stdio. Both answer with the same `EditAttempt`.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from diffcoder.evaluation.attempts import (
    BACKENDS,
    BackendUnavailable,
    EditAttempt,
    EditBackend,
    EditTarget,
)
from diffcoder.lsp_server.client import LspClient, LspError, apply_workspace_edit, lsp_position
from diffcoder.lsp_server.protocol import EDIT_COMMAND
from diffcoder.model.backend import GenerationBackend

# The document every problem is opened as. A non-file URI, so the server's idea of its path is
# exactly "program.py", the path `DirectBackend` puts in its prompts.
DOCUMENT_URI = "untitled:program.py"
# The server caps an edit's answer at edit.maxNewTokens (for editor latency); the direct pipeline
# has no cap beyond the prompt's own allowance, so the evaluation lifts it.
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
# The `diffcoder.edit` reply's camelCase stats, by their `GenerationResult.stats()` names.
REPLY_STATS = {
    "forwards": "nfe",
    "generatedTokens": "generated_tokens",
    "draftAcceptedTokens": "draft_accepted_tokens",
    "forwardsPerToken": "forwards_per_token",
    "draftAcceptedShare": "draft_accepted_share",
    "modelSeconds": "model_seconds",
}


class LspServerError(BackendUnavailable):
    """The server answered an error, went away, or did not answer in time (the CLI reports it
    with exit status 2, like a server that could not start)."""


class DirectBackend:
    """`run_edit` in this process: the pipeline the language server calls, minus the protocol."""

    name = "direct"

    def __init__(self, backend: GenerationBackend, *, path: str = "program.py") -> None:
        self.backend = backend
        self.path = path

    def edit(
        self, text: str, instruction: str, target: EditTarget, *, temperature: float, seed: int
    ) -> EditAttempt:
        from diffcoder.editing.edit_pipeline import EditRequest, run_edit

        request = EditRequest(
            text=text,
            instruction=instruction,
            language="python",
            path=self.path,
            selection=target.selection,
            cursor=target.cursor,
            temperature=temperature,
            seed=seed,
        )
        start = time.perf_counter()
        result = run_edit(self.backend, request)
        return EditAttempt.from_stats(
            result.generation.stats(),
            new_text=result.new_text,
            rejected=None if result.proposed else result.detail,
            region_kind=result.region.kind,
            seconds=time.perf_counter() - start,
        )

    def close(self) -> None:
        pass


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
    """The edit pipeline behind the real language server, driven over stdio: each problem is
    opened as `program.py`, edited with `diffcoder.edit` (`apply: false`) and closed, and the
    returned `WorkspaceEdit` is applied here. The weights load only in the server."""

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

    def _where(self, text: str, target: EditTarget) -> dict[str, Any]:
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
    ) -> EditAttempt:
        refusal = lsp_refusal(1, temperature)
        if refusal is not None:
            raise ValueError(refusal)
        self._opened += 1
        version = self._opened  # a fresh version each time the document is opened
        arguments = {
            "textDocument": {"uri": DOCUMENT_URI, "version": version},
            "instruction": instruction,
            "apply": False,
            **self._where(text, target),
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
        return self._attempt(text, answer, seconds)

    def _attempt(self, text: str, answer: dict[str, Any], seconds: float) -> EditAttempt:
        rejected = answer.get("rejected")
        new_text = (
            text
            if rejected
            else apply_workspace_edit(text, answer.get("edit"), DOCUMENT_URI, self.encoding)
        )
        reply = answer.get("stats") or {}
        stats = {name: reply.get(key, 0) for key, name in REPLY_STATS.items()}
        forwards, generated = int(stats["nfe"]), int(stats["generated_tokens"])
        stats["tokens_per_forward"] = round(generated / forwards, 4) if forwards else 0.0
        stats["finish_reason"] = answer.get("finishReason")
        return EditAttempt.from_stats(
            stats,
            new_text=new_text,
            rejected=rejected,
            region_kind=str((answer.get("region") or {}).get("kind")),
            seconds=seconds,
        )

    def close(self) -> None:
        """Shut the server down (shutdown, exit), killing it if it does not go; idempotent."""
        if not self._log.closed:
            self.client.close(timeout=10.0)
            self._log.close()


def open_backend(
    via: str,
    load_backend: Callable[[], GenerationBackend],
    *,
    model: str | None = None,
    device: str | None = None,
    quant: str | None = None,
) -> EditBackend:
    """The backend named by `--via`. `direct` calls `load_backend`; `lsp` starts the server on
    `model` (with `device`/`quant`) and never loads weights in this process."""
    if via == "direct":
        return DirectBackend(load_backend())
    if via == "lsp":
        return LspBackend(model, device=device, quant=quant)
    raise ValueError(f"--via must be one of {', '.join(BACKENDS)}, not {via!r}")
