"""Instruction edits over LSP: the `diffcoder.edit` command, its cancellation, and the
versioned `WorkspaceEdit` it produces (applied through `workspace/applyEdit` or returned).

An edit computed for version N is never sent once the document has moved past N.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from lsprotocol.converters import get_converter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel
from pygls.exceptions import JsonRpcInvalidParams

from diffcoder.editing.edit_pipeline import EditRequest, EditResult, run_edit
from diffcoder.editing.prompts import PromptTooLongError
from diffcoder.lsp_server.documents import (
    DocumentSnapshot,
    RequestFailed,
    current_version,
    snapshot,
)
from diffcoder.lsp_server.model_host import ModelJob
from diffcoder.lsp_server.work_done import WorkDone

if TYPE_CHECKING:
    from diffcoder.lsp_server.server import DiffCoderServer

logger = logging.getLogger(__name__)
_converter = get_converter()
MODEL_WAIT_S = 120.0  # how long a request waits for a model that is still loading


class _Args(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class _Pos(_Args):
    line: int = Field(ge=0)
    character: int = Field(ge=0)


class _Range(_Args):
    start: _Pos
    end: _Pos


class _Doc(_Args):
    uri: str = Field(min_length=1)
    version: int | None = None


class EditArgs(_Args):
    """`diffcoder.edit`'s one argument object."""

    text_document: _Doc
    instruction: str
    range: _Range | None = None
    position: _Pos | None = None
    apply: bool = True

    @field_validator("instruction")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("instruction must not be empty")
        return value


def parse_edit_args(raw: Any) -> EditArgs:
    if isinstance(raw, list) and len(raw) == 1:
        raw = raw[0]
    try:
        return EditArgs.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'argument'}: {e['msg']}"
            for e in error.errors()
        )
        raise JsonRpcInvalidParams(
            "diffcoder.edit expects one object {textDocument: {uri, version}, range?, position?, "
            f"instruction, apply?}}: {problems}"
        ) from None


def _stats(result: EditResult, server_s: float) -> dict[str, Any]:
    g = result.generation
    model_s = g.prefill_seconds + g.decode_seconds
    return {
        "generatedTokens": len(g.token_ids),
        "promptTokens": g.prompt_tokens,
        "forwards": g.nfe,
        "draftAcceptedTokens": g.draft_accepted_tokens,
        "modelSeconds": round(model_s, 4),
        "serverSeconds": round(max(server_s - model_s, 0.0), 4),
    }


class EditService:
    def __init__(self, server: DiffCoderServer) -> None:
        self.server = server
        self.jobs: dict[Any, ModelJob] = {}  # in-flight edits by request id (or a private key)
        self.tokens: dict[str, Any] = {}  # progress token -> key, for workDoneProgress/cancel

    def cancel(self, key: Any = None, *, uri: str | None = None) -> int:
        """Cancel the edit for request `key`, those on `uri`, or every edit (neither given)."""
        if key is not None:
            keys = [key] if key in self.jobs else []
        else:
            keys = [k for k, job in self.jobs.items() if uri is None or job.uri == uri]
        for k in keys:
            self.jobs[k].cancel()
        return len(keys)

    async def compute(self, args: EditArgs, key: Any) -> tuple[DocumentSnapshot, EditResult, float]:
        """Run the pipeline for `args`; raises RequestFailed with a user-facing reason."""
        started = time.perf_counter()
        doc = snapshot(self.server.workspace, args.text_document.uri)
        wanted = args.text_document.version
        if wanted is not None and doc.version is not None and wanted != doc.version:
            raise RequestFailed(
                f"the edit was asked for version {wanted} of {doc.uri}, but the document is at "
                f"version {doc.version}; ask again"
            )
        job = ModelJob(doc.uri)
        self.jobs[key] = job  # from here on a cancel reaches it, even while the model loads
        try:
            result = await self._run(args, doc, job, key)
        except asyncio.CancelledError:
            job.cancel()
            raise
        finally:
            self.jobs.pop(key, None)
        if job.cancelled.is_set() and result.outcome != "cancelled":
            result = replace(
                result, outcome="cancelled", detail="cancelled", replacements=[], new_text=doc.text
            )
        return doc, result, time.perf_counter() - started

    def _request(self, args: EditArgs, doc: DocumentSnapshot) -> EditRequest:
        selection, cursor = None, None
        if args.range is not None:
            start = doc.offset(types.Position(args.range.start.line, args.range.start.character))
            end = doc.offset(types.Position(args.range.end.line, args.range.end.character))
            if start != end:
                selection = (min(start, end), max(start, end))
            else:
                cursor = start
        if selection is None and cursor is None and args.position is not None:
            cursor = doc.offset(types.Position(args.position.line, args.position.character))
        settings = self.server.settings
        return EditRequest(
            text=doc.text,
            instruction=args.instruction,
            language=doc.language_id,
            path=doc.path,
            selection=selection,
            cursor=cursor,
            reject_syntax_errors=settings.edit.reject_syntax_errors,
            threshold=settings.edit.threshold,
            budget=settings.context.max_tokens,
            max_new_tokens=settings.edit.max_new_tokens,
        )

    async def _run(self, args: EditArgs, doc: DocumentSnapshot, job: ModelJob, key: Any):
        server = self.server
        engine = await server.model.acquire(MODEL_WAIT_S)
        if job.cancelled.is_set():
            raise RequestFailed("DiffCoder: the edit was cancelled")
        request = self._request(args, doc)
        progress = WorkDone(server, f"DiffCoder: {args.instruction[:60]}", cancellable=True)

        def on_step(info) -> None:
            percent = min(100, 100 * info.committed // max(1, info.max_new_tokens))
            progress.report(percent, f"{info.committed}/{info.max_new_tokens} tokens")

        try:
            await progress.begin("preparing the prompt")
            if progress.token is not None:
                self.tokens[progress.token] = key
            return await server.model.run(
                run_edit, engine, request, on_step=on_step, cancel=job.cancelled
            )
        except PromptTooLongError as error:
            raise RequestFailed(f"DiffCoder: the region does not fit the budget: {error}") from None
        finally:
            self.tokens.pop(progress.token or "", None)
            progress.end()

    def workspace_edit(self, doc: DocumentSnapshot, result: EditResult) -> types.WorkspaceEdit:
        edits = [
            types.TextEdit(range=doc.range(r.start, r.end), new_text=r.text)
            for r in result.replacements
        ]
        caps = self.server.client_capabilities.workspace
        edit_caps = caps.workspace_edit if caps else None
        if edit_caps is not None and edit_caps.document_changes:
            identifier = types.OptionalVersionedTextDocumentIdentifier(
                uri=doc.uri, version=doc.version
            )
            change = types.TextDocumentEdit(text_document=identifier, edits=list(edits))
            return types.WorkspaceEdit(document_changes=[change])
        return types.WorkspaceEdit(changes={doc.uri: list(edits)})

    def result_json(
        self, doc: DocumentSnapshot, result: EditResult, server_s: float
    ) -> dict[str, Any]:
        region = result.region
        written = result.new_region_text
        # A refused answer the model did write (syntax errors), for display only: never applied.
        proposal = (
            written
            if not result.proposed and written != result.prompt.region.original_text
            else None
        )
        return {
            "applied": False,
            "edit": None,
            "region": {
                "range": _converter.unstructure(doc.range(region.start, region.end)),
                "kind": region.kind,
                "reason": region.reason,
                "name": region.name,
            },
            "finishReason": result.finish_reason,
            "rejected": None if result.proposed else result.detail,
            "cancelled": result.outcome == "cancelled",
            "reason": None if result.proposed else result.detail,
            "proposal": proposal,
            "version": doc.version,
            "stats": _stats(result, server_s),
        }

    def refusal(self, doc: DocumentSnapshot, job_cancelled: bool) -> str | None:
        """Why an edit computed on `doc` must not be applied now (None when it may)."""
        if job_cancelled:
            return "cancelled"
        now = current_version(self.server.workspace, doc.uri)
        if now != doc.version:
            return (
                f"{doc.uri} changed while the edit was computed (version {doc.version} -> {now}); "
                "nothing was applied, ask again"
            )
        return None

    async def execute(self, raw_args: Any, key: Any) -> dict[str, Any]:
        """`workspace/executeCommand diffcoder.edit`."""
        args = parse_edit_args(raw_args)
        doc, result, server_s = await self.compute(args, key)
        payload = self.result_json(doc, result, server_s)
        if not result.proposed:
            return payload
        edit = self.workspace_edit(doc, result)
        payload["edit"] = _converter.unstructure(edit)
        if not result.replacements:
            payload["reason"] = "the model proposed no change"
            return payload
        if not args.apply:
            return payload
        refusal = self.refusal(doc, result.outcome == "cancelled")
        if refusal is not None:
            payload["reason"] = refusal
            return payload
        payload["applied"], payload["reason"] = await self.apply(edit, args.instruction)
        return payload

    async def apply(self, edit: types.WorkspaceEdit, label: str) -> tuple[bool, str | None]:
        timeout = self.server.settings.edit.apply_timeout_s
        params = types.ApplyWorkspaceEditParams(edit=edit, label=f"DiffCoder: {label[:60]}")
        try:
            response = await asyncio.wait_for(
                self.server.workspace_apply_edit_async(params), timeout
            )
        except asyncio.TimeoutError:
            return False, f"the editor did not answer workspace/applyEdit within {timeout:g} s"
        except Exception as error:  # the client answered with an error
            return False, f"the editor refused workspace/applyEdit: {error}"
        if response is None:
            return False, "the editor sent no answer to workspace/applyEdit"
        if not response.applied:
            return False, response.failure_reason or "the editor did not apply the edit"
        return True, None
