"""`POST /v1/completions`, OpenAI-compatible: what editor plugins that speak that API send, and
what they expect back. A `suffix` makes it fill-in-the-middle through the model's FIM layout
(`diffcoder.editing.fim_prompt`, the same prompt the language server's inline completion uses).

Plain pydantic: no Ray, no torch. Unknown fields are ignored (clients send many); the ones that
would change the answer's shape and are not supported (`n`, `best_of`, `echo`, `logprobs`) are
refused with a 400 that says so.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from diffcoder.editing.budgets import PromptTooLongError
from diffcoder.editing.fim_prompt import build_fim_prompt
from diffcoder.model.backend import PromptTokenizer, encode_prompt
from diffcoder.serving.requests import (
    ApiError,
    Limits,
    Prepared,
    TokenId,
    check_ids,
    decode_config,
)

# OpenAI's finish reasons: "stop" for a natural end or a stop string, "length" at max_tokens.
FINISH_REASONS = {"eos": "stop", "stop": "stop", "length": "length", "cancelled": "stop"}


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    prompt: str | list[str] | list[TokenId] = ""
    suffix: str | None = None
    max_tokens: int = Field(16, ge=1)
    # Greedy unless asked: OpenAI's default of 1.0 makes code completion noisy (docs/server.md).
    temperature: float = Field(0.0, ge=0, le=2)
    stop: str | list[str] | None = None
    stream: bool = False
    seed: int | None = None
    n: int = 1
    best_of: int | None = None
    echo: bool = False
    logprobs: int | None = None


def _stop_strings(stop: str | list[str] | None) -> tuple[str, ...]:
    strings = [stop] if isinstance(stop, str) else list(stop or [])
    if len(strings) > 4:
        raise ApiError(400, f"stop takes at most 4 strings, not {len(strings)}")
    return tuple(s for s in strings if s)


def _unsupported(request: CompletionRequest) -> None:
    if request.n != 1 or (request.best_of or 1) != 1:
        raise ApiError(400, "n and best_of must be 1: this server returns one completion")
    if request.echo or request.logprobs is not None:
        raise ApiError(400, "echo and logprobs are not supported; leave them out")


def prepare_completion(
    request: CompletionRequest, tokenizer: PromptTokenizer, vocab_size: int, limits: Limits
) -> Prepared:
    _unsupported(request)
    config = decode_config(
        max_new_tokens=request.max_tokens,
        temperature=request.temperature,
        stop_strings=_stop_strings(request.stop),
        seed=request.seed or 0,
    )
    prompt = request.prompt
    if isinstance(prompt, list) and prompt and isinstance(prompt[0], str):
        if len(prompt) != 1:
            raise ApiError(400, "prompt: send one prompt per request (a string)")
        prompt = prompt[0]
    if isinstance(prompt, list):  # token ids
        if request.suffix is not None:
            raise ApiError(400, "suffix needs the prompt as text, not token ids")
        check_ids(prompt, vocab_size, "prompt")
        prompt_ids = list(prompt)
    elif request.suffix is not None:
        prompt_ids = _fim_ids(tokenizer, prompt, request.suffix, request.max_tokens, limits)
    else:
        prompt_ids = encode_prompt(tokenizer, prompt)
    if not prompt_ids:
        raise ApiError(400, "the prompt is empty; give some text")
    limits.check(len(prompt_ids), 0, config.max_new_tokens, "max_tokens")
    return Prepared(prompt_ids=prompt_ids, config=config)


def _fim_ids(
    tokenizer: PromptTokenizer, prefix: str, suffix: str, max_tokens: int, limits: Limits
) -> list[int]:
    """The model's FIM prompt; prefix and suffix are trimmed at line boundaries, nearest lines
    kept, to fit --max-request-tokens (as the language server does)."""
    try:
        fim = build_fim_prompt(
            tokenizer,
            text=prefix + suffix,
            cursor=len(prefix),
            context_tokens=limits.max_request_tokens,
            max_new_tokens=max_tokens,
        )
    except PromptTooLongError:
        raise ApiError(
            400,
            f"max_tokens={max_tokens} leaves no room for the prompt in this server's limit of "
            f"{limits.max_request_tokens} tokens per request (--max-request-tokens)",
        ) from None
    except ValueError as error:  # no FIM tokens in this tokenizer
        raise ApiError(400, f"{error}; leave suffix out") from None
    return fim.prompt_ids


class CompletionIds:
    """The id, creation time and model name one completion's answer (or chunks) carry."""

    def __init__(self, model: str) -> None:
        self.id = f"cmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.model = model

    def _envelope(self, choice: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "logprobs": None, **choice}],
        }

    def answer(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The whole answer from a `/v1/generate` payload (`requests.generate_payload`)."""
        body = self._envelope(
            {"text": payload["text"], "finish_reason": FINISH_REASONS[payload["finish_reason"]]}
        )
        prompt, completion = payload["prompt_tokens"], payload["generated_tokens"]
        body["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        return body

    def chunk(self, text: str, finish_reason: str | None = None) -> dict[str, Any]:
        """One streamed piece: new text, and with the last one the finish reason."""
        return self._envelope({"text": text, "finish_reason": finish_reason})
