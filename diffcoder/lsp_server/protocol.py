"""The server's own protocol, in one place: custom method and command names, the argument and result
models of each (pydantic, camelCase on the wire) and the fixed values clients match on.

The extension's `lsp_ext.ts` mirrors this module; tests/lsp/test_protocol_mirror.py compares them.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator
from pydantic.alias_generators import to_camel
from pygls.exceptions import JsonRpcInvalidParams

STATUS_REQUEST = "diffcoder/status"
EDIT_COMMAND = "diffcoder.edit"
CANCEL_COMMAND = "diffcoder.cancel"
# Clients tell the model load apart from edits by this work-done progress title.
LOAD_PROGRESS_TITLE = "Loading Stable-DiffCoder…"
EDIT_PROGRESS_PREFIX = "DiffCoder: "  # an edit's progress title: this, then its instruction

# How a `diffcoder.edit` ends. The pipeline gives proposed / refused / cancelled; the server adds
# applied (the editor took it), stale (the document moved on) and failed (the editor refused it).
Outcome = Literal["proposed", "applied", "refused", "cancelled", "stale", "failed"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
ModelState = Literal["unconfigured", "loading", "ready", "failed"]
MODEL_STATES: tuple[str, ...] = get_args(ModelState)
_Stats = TypeVar("_Stats", bound="InfillStats")


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def to_json(self) -> dict[str, Any]:
        """The JSON a client receives (camelCase, every key present, null included)."""
        return self.model_dump(by_alias=True, mode="json")


class _Args(_Wire):
    # Arguments are checked strictly: a misspelt key is an error, not a silent default.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Position(_Args):
    line: int = Field(ge=0)
    character: int = Field(ge=0)


class Range(_Args):
    start: Position
    end: Position


class DocumentRef(_Args):
    uri: str = Field(min_length=1)
    version: int | None = None


class EditArgs(_Args):
    """`diffcoder.edit`'s one argument object."""

    text_document: DocumentRef
    instruction: str
    range: Range | None = None
    position: Position | None = None
    apply: StrictBool = False  # False: the edit for a preview; true: sent with workspace/applyEdit

    @field_validator("instruction")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("instruction must not be empty")
        return value


def problems(error: ValidationError) -> str:
    """A validation error in one line, with the wire's names: `range.start.line: ...`."""
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'argument'}: {item['msg']}"
        for item in error.errors()
    )


class CodeActionData(_Args):
    """Every DiffCoder code action's `data`: what its edit is (an `EditArgs` without `apply`), so
    a client can run it its own way (the VS Code extension opens its diff review) without
    resolving it; `codeAction/resolve` reads it back."""

    text_document: DocumentRef
    range: Range
    instruction: str = Field(min_length=1)

    def edit_args(self, *, apply: bool) -> dict[str, Any]:
        """`diffcoder.edit`'s argument for this action."""
        return {**self.model_dump(by_alias=True, mode="json"), "apply": apply}


class CancelArgs(_Args):
    """`diffcoder.cancel`'s optional argument: the document whose jobs end (none: every job)."""

    text_document: DocumentRef | None = None


def cancel_target(arguments: tuple[Any, ...] | list[Any]) -> str | None:
    """The document `diffcoder.cancel` names; None (every job) without an argument (or with
    null or {}). Anything else is InvalidParams: a typo must not cancel every job."""
    if not arguments or (len(arguments) == 1 and arguments[0] is None):
        return None
    try:
        if len(arguments) > 1:
            raise ValueError(f"{len(arguments)} arguments")
        target = CancelArgs.model_validate(arguments[0]).text_document
    except ValueError as error:  # pydantic's ValidationError too
        why = problems(error) if isinstance(error, ValidationError) else str(error)
        raise JsonRpcInvalidParams(
            f"diffcoder.cancel expects [{{textDocument: {{uri}}}}] or no argument: {why}"
        ) from None
    return None if target is None else target.uri


class CancelReply(_Wire):
    cancelled: int  # how many jobs were told to stop


class EditRegion(_Wire):
    """The part of the file the model rewrote, and why that part (`reason`, one sentence)."""

    range: Range
    kind: str
    reason: str
    name: str | None


class RegionReport(_Wire):
    """The keys an edit adds to one `$/progress` report (kind `report`), sent before decoding:
    the region it rewrites, so an editor can highlight it while the model works. Other clients
    read the report's usual keys (percentage, message) and ignore these."""

    text_document: DocumentRef
    region: EditRegion


class InfillStats(_Wire):
    """The figures of one request: what the model did, and the time around it on the server."""

    generated_tokens: int
    prompt_tokens: int
    forwards: int
    model_seconds: float
    server_seconds: float  # the request's time on the server minus the model's

    @classmethod
    def of(cls: type[_Stats], stats: dict[str, Any], request_seconds: float) -> _Stats:
        """From `GenerationResult.stats()`, renamed for the protocol."""
        model_s = stats["model_seconds"]
        values = {
            "generated_tokens": stats["generated_tokens"],
            "prompt_tokens": stats["prompt_tokens"],
            "forwards": stats["nfe"],
            "model_seconds": round(model_s, 4),
            "server_seconds": round(max(request_seconds - model_s, 0.0), 4),
        }
        for extra in ("forwards_per_token", "draft_accepted_tokens", "draft_accepted_share"):
            if extra in cls.model_fields:
                values[extra] = stats[extra]
        return cls(**values)


class EditStats(InfillStats):
    """An edit's figures: an infill's, plus what the draft (the region as it was) saved:
    forwards per generated token (1.0 is autoregressive decoding) and the tokens, and share of
    the generated tokens, that draft verification accepted."""

    forwards_per_token: float
    draft_accepted_tokens: int
    draft_accepted_share: float


class EditReply(_Wire):
    """`diffcoder.edit`'s answer. `outcome` and `detail` say how it ended; the older keys
    (applied, rejected, cancelled, reason) are kept for clients that read them."""

    applied: bool
    edit: dict[str, Any] | None  # a WorkspaceEdit, when the model proposed one
    region: EditRegion
    finish_reason: str
    rejected: str | None  # why the model's answer was refused or cancelled
    cancelled: bool
    reason: str | None  # why nothing was applied (None when applied or previewed)
    proposal: str | None  # a refused answer's region text, for display only
    proposal_range: Range | None  # the range `proposal` would replace (set with `proposal`)
    version: int | None
    stats: EditStats
    outcome: Outcome
    detail: str | None


class ModelStatus(_Wire):
    state: ModelState
    path: str | None
    detail: str


class StatusReply(_Wire):
    """`diffcoder/status`'s answer: the model, the jobs running, the settings in force."""

    model: ModelStatus
    in_flight: int
    last_infill: InfillStats | None
    settings: dict[str, Any]
