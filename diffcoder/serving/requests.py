"""What `POST /v1/generate` accepts and answers, the server's limits, and the one error type the
HTTP layer turns into a status code. Plain pydantic: no Ray, no torch.

The body carries the decode settings of `diffcoder generate` under the same names (`stop` is
`--stop`); the answer carries the keys of `generate --json`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from diffcoder.model.backend import BackendInfo, PromptTokenizer, encode_prompt
from diffcoder.model.types import (
    BLOCK_LENGTH,
    DEFAULT_THRESHOLD,
    DecodeConfig,
    GenerationResult,
    StepInfo,
)

DEFAULT_MAX_REQUEST_TOKENS = 8192
DEFAULT_MAX_CONCURRENT = 8  # running requests per token (or per server without a token file)
TokenId = Annotated[int, Field(ge=0)]
M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """A request the server will not run: `status` is the HTTP status, `message` says why and
    how to fix it (OpenAI's error shape, so its clients show it)."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "code": self.status}}


@dataclass(frozen=True)
class Limits:
    """`--max-request-tokens` (prompt, draft and new tokens of one request) and the number of
    requests one token may run at once."""

    max_request_tokens: int = DEFAULT_MAX_REQUEST_TOKENS
    max_concurrent: int = DEFAULT_MAX_CONCURRENT

    @property
    def max_body_bytes(self) -> int:
        """Bodies larger than this are refused unread: ~32 bytes per token is generous for text
        and for id lists alike."""
        return max(1 << 20, 32 * self.max_request_tokens)

    def check(self, prompt: int, draft: int, new: int, new_name: str = "max_new_tokens") -> None:
        limit = self.max_request_tokens
        if prompt + draft > limit:
            raise ApiError(
                413,
                f"the prompt ({prompt} tokens) and draft ({draft} tokens) exceed this server's "
                f"limit of {limit} tokens per request (--max-request-tokens); shorten them",
            )
        if prompt + new > limit:
            raise ApiError(
                400,
                f"{new_name}={new} with a {prompt}-token prompt exceeds this server's limit of "
                f"{limit} tokens per request (--max-request-tokens); ask for at most "
                f"{max(limit - prompt, 0)}",
            )


class GenerateRequest(BaseModel):
    """`POST /v1/generate`: a prompt as text (optionally rendered as one chat message) or ids."""

    model_config = ConfigDict(extra="forbid")

    prompt: str | None = None
    prompt_ids: list[TokenId] | None = None
    chat: bool = False
    max_new_tokens: int = Field(128, ge=1)
    block_length: int = Field(BLOCK_LENGTH, ge=1)
    steps_per_block: int | None = Field(None, ge=1)
    threshold: float | None = DEFAULT_THRESHOLD
    temperature: float = Field(0.0, ge=0)
    mode: Literal["parity", "fast"] = "fast"
    seed: int = 0
    stop: list[str] = Field(default_factory=list, max_length=16)
    draft: str | None = None
    draft_ids: list[TokenId] | None = None
    draft_window: int = Field(DecodeConfig.draft_window, ge=1)
    max_draft_window: int = Field(DecodeConfig.max_draft_window, ge=1)
    stream: bool = False


@dataclass(frozen=True)
class Prepared:
    """A request ready for the backend."""

    prompt_ids: list[int]
    config: DecodeConfig
    draft_ids: list[int] | None = None


def parse_body(model: type[M], body: bytes) -> M:
    """The body as `model`, or a 400 naming every field that is wrong."""
    try:
        raw = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(400, f"the request body is not JSON ({error}); send a JSON object") from None
    if not isinstance(raw, dict):
        raise ApiError(400, "the request body must be a JSON object")
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()
        )
        raise ApiError(400, f"invalid request: {problems}") from None


def decode_config(**fields: Any) -> DecodeConfig:
    try:
        return DecodeConfig(**fields)
    except ValueError as error:
        raise ApiError(400, f"invalid decode settings: {error}") from None


def check_ids(ids: list[int], vocab_size: int, name: str) -> None:
    unknown = [i for i in ids if i >= vocab_size]
    if unknown:
        raise ApiError(
            400, f"{name} {unknown[0]} is not a token of this model (ids 0 to {vocab_size - 1})"
        )


def prepare_generate(
    request: GenerateRequest, tokenizer: PromptTokenizer, vocab_size: int, limits: Limits
) -> Prepared:
    if (request.prompt is None) == (request.prompt_ids is None):
        raise ApiError(400, "give exactly one of prompt (text) and prompt_ids")
    if (request.draft is not None) and (request.draft_ids is not None):
        raise ApiError(400, "give at most one of draft (text) and draft_ids")
    config = decode_config(
        max_new_tokens=request.max_new_tokens,
        block_length=request.block_length,
        steps_per_block=request.steps_per_block,
        threshold=request.threshold,
        temperature=request.temperature,
        mode=request.mode,
        stop_strings=tuple(request.stop),
        seed=request.seed,
        draft_window=request.draft_window,
        max_draft_window=request.max_draft_window,
    )
    if request.prompt is not None:
        if not request.prompt and not request.chat:
            raise ApiError(
                400, "the prompt is empty; give some text (or chat, which adds a template)"
            )
        try:
            prompt_ids = encode_prompt(tokenizer, request.prompt, chat=request.chat)
        except ValueError as error:
            raise ApiError(400, str(error)) from None
    else:
        if request.chat:
            raise ApiError(400, "chat renders prompt text; send prompt instead of prompt_ids")
        prompt_ids = list(request.prompt_ids or [])
        if not prompt_ids:
            raise ApiError(400, "prompt_ids is empty; give at least one token id")
        check_ids(prompt_ids, vocab_size, "prompt_ids")
    draft_ids = request.draft_ids
    if request.draft is not None:
        draft_ids = encode_prompt(tokenizer, request.draft)
    check_ids(draft_ids or [], vocab_size, "draft_ids")
    limits.check(len(prompt_ids), len(draft_ids or []), config.max_new_tokens)
    return Prepared(prompt_ids=prompt_ids, config=config, draft_ids=draft_ids)


def generate_payload(
    result: GenerationResult, info: BackendInfo, config: DecodeConfig
) -> dict[str, Any]:
    """The keys of `diffcoder generate --json`, in its order."""
    return {
        "token_ids": result.token_ids,
        "text": result.text,
        **result.stats(),
        "mode": config.mode,
        "threshold": config.threshold,
        "device": info.device,
        "quant": info.quant,
        "dtype": info.dtype,
    }


def progress_payload(step: StepInfo) -> dict[str, Any]:
    """One step's progress, field by field (every field `StepInfo` has)."""
    return asdict(step)
