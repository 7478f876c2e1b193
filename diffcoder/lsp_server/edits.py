"""Instruction edits over LSP: `diffcoder.edit` and code-action resolve run the edit pipeline on the
model thread and end as one `EditOutcome`, whose `reply()` is the command's JSON answer.

An edit computed for version N is never sent once the document has moved past N, and a cancelled
edit is never applied.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from lsprotocol import types
from lsprotocol.converters import get_converter
from pydantic import ValidationError
from pygls.exceptions import JsonRpcInvalidParams

from diffcoder.editing.budgets import PromptTooLongError
from diffcoder.editing.edit_pipeline import EditRequest, EditResult, prepare_edit, run_edit
from diffcoder.lsp_server import edit_report
from diffcoder.lsp_server.context import RequestContext
from diffcoder.lsp_server.documents import (
    DocumentSnapshot,
    RequestFailed,
    current,
    is_out_of_sync,
    snapshot,
)
from diffcoder.lsp_server.jobs import Job
from diffcoder.lsp_server.protocol import (
    EDIT_PROGRESS_PREFIX,
    DocumentRef,
    EditArgs,
    EditRegion,
    EditReply,
    EditStats,
    Outcome,
    Position,
    Range,
    RegionReport,
    problems,
)
from diffcoder.lsp_server.settings import Settings
from diffcoder.lsp_server.work_done import WorkDone
from diffcoder.model.backend import GenerationBackend
from diffcoder.model.types import CancelFlag, StepInfo

_converter = get_converter()
MODEL_WAIT_S = 120.0  # how long a request waits for a model that is still loading
NO_CHANGE = "the model proposed no change"
TITLE_CHARS = 60  # an edit's progress title and applyEdit label: the prefix, then this much


def parse_edit_args(raw: Any) -> EditArgs:
    if isinstance(raw, list) and len(raw) == 1:
        raw = raw[0]
    try:
        return EditArgs.model_validate(raw)
    except ValidationError as error:
        raise JsonRpcInvalidParams(
            "diffcoder.edit expects one object {textDocument: {uri, version}, range?, position?, "
            f"instruction, apply?}}: {problems(error)}"
        ) from None


@dataclass(frozen=True)
class EditOutcome:
    """How one edit ended: `outcome` plus `detail` (why, for people), with what led there."""

    outcome: Outcome
    detail: str | None
    doc: DocumentSnapshot
    result: EditResult
    edit: types.WorkspaceEdit | None  # the proposal as the editor takes it (None: refused)
    request_seconds: float  # from the request to the pipeline's answer

    def reply(self) -> EditReply:
        """The `diffcoder.edit` answer: the one place its keys are filled in."""
        result = self.result
        ended_early = self.outcome in ("refused", "cancelled")
        proposal = edit_report.proposal_text(result) if self.outcome == "refused" else None
        context = result.prompt.answer_context
        proposal_range = None
        if proposal is not None:
            proposal_range = _range(self.doc.range(context.start, context.end))
        return EditReply(
            applied=self.outcome == "applied",
            edit=None if self.edit is None or ended_early else _converter.unstructure(self.edit),
            region=_region(self.doc, result),
            finish_reason=result.finish_reason,
            # the pipeline's short reason for a refusal (what older clients and the evaluation
            # harness compare); `detail` explains it in full
            rejected=result.detail
            if self.outcome == "refused"
            else self.detail
            if ended_early
            else None,
            cancelled=self.outcome == "cancelled",
            reason=self.detail,
            proposal=proposal,
            proposal_range=proposal_range,
            version=self.doc.version,
            stats=EditStats.of(result.generation.stats(), self.request_seconds),
            outcome=self.outcome,
            detail=self.detail,
        )

    def but(self, outcome: Outcome, detail: str | None) -> EditOutcome:
        """The same edit, ended differently (the server's checks after the pipeline)."""
        return replace(self, outcome=outcome, detail=detail)


def _range(where: types.Range) -> Range:
    return Range.model_validate(_converter.unstructure(where))


def _region(doc: DocumentSnapshot, result: EditResult) -> EditRegion:
    region = result.region
    where = _range(doc.range(region.start, region.end))
    return EditRegion(range=where, kind=region.kind, reason=region.reason, name=region.name)


def edit_request(args: EditArgs, doc: DocumentSnapshot, settings: Settings) -> EditRequest:
    """The pipeline's request; a position or range outside the document is InvalidParams."""
    selection, cursor = None, None
    if args.range is not None:
        start = doc.offset(_lsp(args.range.start), "range.start")
        end = doc.offset(_lsp(args.range.end), "range.end")
        if start != end:
            selection = (min(start, end), max(start, end))
        else:
            cursor = start
    if args.position is not None:
        at = doc.offset(_lsp(args.position), "position")
        cursor = at if selection is None and cursor is None else cursor
    return EditRequest(
        text=doc.text,
        instruction=args.instruction,
        language=doc.language_id,
        path=doc.path,
        selection=selection,
        cursor=cursor,
        reject_syntax_errors=settings.edit.reject_syntax_errors,
        threshold=settings.edit.threshold,
        context_tokens=settings.context.max_tokens,
        max_new_tokens=settings.edit.max_new_tokens,
    )


def _lsp(position: Position) -> types.Position:
    return types.Position(line=position.line, character=position.character)


def workspace_edit(
    doc: DocumentSnapshot, result: EditResult, document_changes: bool
) -> types.WorkspaceEdit:
    """The replacements at the snapshot's version (a `TextDocumentEdit` where the editor
    takes one, so it refuses them on any other version)."""
    edits = [
        types.TextEdit(range=doc.range(r.start, r.end), new_text=r.text)
        for r in result.replacements
    ]
    if document_changes:
        identifier = types.OptionalVersionedTextDocumentIdentifier(uri=doc.uri, version=doc.version)
        change = types.TextDocumentEdit(text_document=identifier, edits=list(edits))
        return types.WorkspaceEdit(document_changes=[change])
    return types.WorkspaceEdit(changes={doc.uri: list(edits)})


def stale(ctx: RequestContext, doc: DocumentSnapshot) -> str | None:
    """Why an edit computed on `doc` must not be applied now (None when it may): the document
    moved to another version, or its text changed under the same one (a client that reopened
    it, or a change the server could not apply)."""
    now = current(ctx.workspace, doc.uri)
    if now is None:
        return f"{doc.uri} was closed while the edit was computed; nothing was applied"
    if now.version == doc.version and now.source == doc.text and not is_out_of_sync(now):
        return None
    return (
        f"{doc.uri} changed while the edit was computed (version {doc.version} -> "
        f"{now.version}); nothing was applied, ask again"
    )


def _announced_edit(
    backend: GenerationBackend,
    request: EditRequest,
    *,
    doc: DocumentSnapshot,
    progress: WorkDone,
    cancel: CancelFlag,
) -> EditResult:
    """`run_edit` on the model thread, with the region announced before decoding (a `$/progress`
    report with `RegionReport`'s keys) and a percentage that follows the answer's length."""
    prepared = prepare_edit(backend.tokenizer, request)
    _, region, prompt = prepared
    expected = edit_report.expected_tokens(prompt)
    where = _range(doc.range(region.start, region.end))
    named = EditRegion(range=where, kind=region.kind, reason=region.reason, name=region.name)
    document = DocumentRef(uri=doc.uri, version=doc.version)
    extra = RegionReport(text_document=document, region=named).to_json()
    progress.report_with(0, edit_report.region_message(doc, region), extra)

    def on_step(info: StepInfo) -> None:
        percent = edit_report.edit_percentage(info.committed, expected)
        progress.report(percent, f"{min(info.committed, expected)}/{expected} tokens")

    result = run_edit(backend, request, on_step=on_step, cancel=cancel, prepared=prepared)
    if result.finish_reason != "cancelled":
        progress.report(100, "done")
    return result


async def _decode(
    ctx: RequestContext, request: EditRequest, instruction: str, job: Job, doc: DocumentSnapshot
) -> EditResult:
    engine = await ctx.model.acquire(MODEL_WAIT_S)
    if job.cancelled:
        raise RequestFailed(f"DiffCoder: the edit did not start: {job.why_cancelled}")
    title = EDIT_PROGRESS_PREFIX + instruction[:TITLE_CHARS]
    progress = ctx.editor.progress(title, cancellable=True)
    try:
        await progress.begin("preparing the prompt")
        job.progress_token = progress.token
        return await ctx.jobs.run(job, _announced_edit, engine, request, doc=doc, progress=progress)
    except PromptTooLongError as error:
        budget = ctx.settings.context.max_tokens
        raise RequestFailed(f"DiffCoder: {error} (context.maxTokens is {budget})") from None
    finally:
        job.progress_token = None
        progress.end()


async def propose(ctx: RequestContext, args: EditArgs, job: Job) -> EditOutcome:
    """Run the pipeline for `args` (never applies); RequestFailed says why it could not run."""
    started = time.perf_counter()
    doc = snapshot(ctx.workspace, args.text_document.uri)
    wanted = args.text_document.version
    if wanted is not None and doc.version is not None and wanted != doc.version:
        raise RequestFailed(
            f"the edit was asked for version {wanted} of {doc.uri}, but the document is at "
            f"version {doc.version}; ask again"
        )
    request = edit_request(args, doc, ctx.settings)  # before waiting for the model
    result = await _decode(ctx, request, args.instruction, job, doc)
    detail = result.detail
    if result.outcome == "refused":
        budget = result.prompt.max_new_tokens
        if request.max_new_tokens is not None:
            budget = min(budget, request.max_new_tokens)
        detail = edit_report.refusal_detail(result, doc, budget)
    proposal = EditOutcome(
        outcome=result.outcome,
        detail=detail,
        doc=doc,
        result=result,
        edit=None,
        request_seconds=time.perf_counter() - started,
    )
    if job.cancelled:  # the decoding ended as (or just before) it was cancelled
        return proposal.but("cancelled", job.why_cancelled)
    if not result.proposed:
        return proposal
    edit = workspace_edit(doc, result, ctx.editor.takes_document_changes)
    return replace(proposal, edit=edit, detail=None if result.replacements else NO_CHANGE)


async def execute(ctx: RequestContext, raw_args: Any) -> EditOutcome:
    """`workspace/executeCommand diffcoder.edit`: propose, then apply when asked and still valid."""
    args = parse_edit_args(raw_args)
    with ctx.jobs.track("edit", ctx.request_id, args.text_document.uri) as job:
        proposed = await propose(ctx, args, job)
        if not args.apply or proposed.outcome != "proposed" or proposed.detail is not None:
            return proposed
        why_stale = stale(ctx, proposed.doc)
        if why_stale is not None:
            return proposed.but("stale", why_stale)
        if job.cancelled:
            return proposed.but("cancelled", job.why_cancelled)
        assert proposed.edit is not None  # a proposal with replacements has its edit
        label = EDIT_PROGRESS_PREFIX + args.instruction[:TITLE_CHARS]
        timeout = ctx.settings.edit.apply_timeout_s
        applied, why = await ctx.editor.apply_edit(proposed.edit, label, timeout)
        return proposed.but("applied", None) if applied else proposed.but("failed", why)


async def resolve_edit(ctx: RequestContext, raw_args: Any) -> EditOutcome:
    """A code action's edit, computed when it is chosen: a proposal, or why there is none."""
    args = parse_edit_args(raw_args)
    with ctx.jobs.track("edit", ctx.request_id, args.text_document.uri) as job:
        proposed = await propose(ctx, args, job)
    if proposed.outcome == "proposed" and proposed.detail is None:
        why_stale = stale(ctx, proposed.doc)
        if why_stale is not None:
            return proposed.but("stale", why_stale)
    return proposed
