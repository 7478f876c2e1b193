"""The HTTP API of the team server (docs/server.md): a FastAPI app deployed as Serve's ingress.

It checks the bearer token (401), the body size (413), the caller's running requests (429) and
the model name, then hands the body to a model replica through a Serve handle; the replica
validates and decodes. A replica that dies mid-request answers 503 ("retry"), as an HTTP status
when nothing was sent yet, else as the stream's last event. Every request gets an answer.
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations at runtime.
import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from ray import serve
from ray.exceptions import ActorUnavailableError, RayActorError
from ray.serve.exceptions import DeploymentUnavailableError, ReplicaUnavailableError

from diffcoder.serving.auth import ConcurrencyLimit, TokenCheck
from diffcoder.serving.openai import CompletionIds
from diffcoder.serving.requests import ApiError, Limits

logger = logging.getLogger(__name__)
REPLICA_GONE = (
    "the model replica serving this request stopped (Ray Serve is starting a new one); "
    "retry the request"
)
_UNAVAILABLE = (
    RayActorError,
    ActorUnavailableError,
    ReplicaUnavailableError,
    DeploymentUnavailableError,
)
HEALTH_TIMEOUT_S = 10.0

api = FastAPI(title="DiffCoder team server", docs_url=None, redoc_url=None, openapi_url=None)


def error_response(error: ApiError) -> JSONResponse:
    headers = {}
    if error.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if error.status in (429, 503):
        headers["Retry-After"] = "1"
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def _sse(data: Any, event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n"


def _light_parse(body: bytes) -> dict[str, Any]:
    """The fields the ingress itself needs (stream, model); the replica validates the rest."""
    try:
        raw = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        return {}
    return raw if isinstance(raw, dict) else {}


async def _chain(first: str, rest: AsyncIterator[str]) -> AsyncIterator[str]:
    yield first
    async for chunk in rest:
        yield chunk


@serve.ingress(api)
class Ingress:
    """Serve's ingress deployment (one replica: the per-token limit is counted here)."""

    def __init__(
        self, model: Any, token_digests: list[str] | None, limits: Limits, model_name: str
    ) -> None:
        self.model = model  # a DeploymentHandle to the ModelReplica deployment
        self.tokens = TokenCheck(token_digests)
        self.limits = limits
        self.running = ConcurrencyLimit(limits.max_concurrent)
        self.model_name = model_name
        self._cached: dict[str, Any] = {}

    async def _replica_info(self, what: str) -> dict[str, Any]:
        """`describe` or `tokenizer` of any replica (they serve the same checkpoint)."""
        if what not in self._cached:
            self._cached[what] = await getattr(self.model, what).remote()
        return self._cached[what]

    async def _guarded(self, request: Request, call) -> Response:
        try:
            caller = self.tokens.caller(request.headers.get("authorization"))
            return await call(caller)
        except ApiError as error:
            return error_response(error)
        except _UNAVAILABLE:
            logger.warning("a model replica became unavailable")
            return error_response(ApiError(503, REPLICA_GONE, "replica_unavailable"))

    @api.get("/healthz")
    async def healthz(self) -> Response:
        try:
            info = await asyncio.wait_for(self._replica_info("describe"), HEALTH_TIMEOUT_S)
            await asyncio.wait_for(self.model.describe.remote(), HEALTH_TIMEOUT_S)
        except (asyncio.TimeoutError, *_UNAVAILABLE) as error:
            body = {"status": "unavailable", "detail": f"no model replica answers ({error})"}
            return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})
        return JSONResponse({"status": "ok", "model": self.model_name, "summary": info["summary"]})

    @api.get("/v1/models")
    async def models(self, request: Request) -> Response:
        async def answer(caller: str) -> Response:
            info = await self._replica_info("describe")
            entry = {
                "id": self.model_name,
                "object": "model",
                "created": 0,
                "owned_by": "diffcoder",
                **{k: info[k] for k in ("summary", "device", "quant", "dtype")},
            }
            return JSONResponse({"object": "list", "data": [entry]})

        return await self._guarded(request, answer)

    @api.get("/v1/tokenizer")
    async def tokenizer(self, request: Request) -> Response:
        async def answer(caller: str) -> Response:
            info = await self._replica_info("describe")
            payload = await self._replica_info("tokenizer")
            limits = {
                "max_request_tokens": self.limits.max_request_tokens,
                "max_concurrent": self.limits.max_concurrent,
            }
            extra = {"model": self.model_name, "summary": info["summary"], "limits": limits}
            extra.update({k: info[k] for k in ("device", "quant", "dtype")})
            return JSONResponse({**payload, **extra})

        return await self._guarded(request, answer)

    @api.post("/v1/generate")
    async def generate(self, request: Request) -> Response:
        return await self._guarded(
            request, lambda caller: self._decode(request, caller, "generate")
        )

    @api.post("/v1/completions")
    async def completions(self, request: Request) -> Response:
        return await self._guarded(
            request, lambda caller: self._decode(request, caller, "completion")
        )

    async def _body(self, request: Request) -> bytes:
        limit = self.limits.max_body_bytes
        declared = request.headers.get("content-length", "")
        too_big = ApiError(
            413, f"the request body is larger than this server's limit of {limit} bytes"
        )
        if declared.isdigit() and int(declared) > limit:
            raise too_big
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise too_big
        return bytes(body)

    async def _decode(self, request: Request, caller: str, kind: str) -> Response:
        body = await self._body(request)
        fields = _light_parse(body)
        stream = fields.get("stream") is True
        wanted = fields.get("model")
        if kind == "completion" and isinstance(wanted, str) and wanted != self.model_name:
            raise ApiError(
                404,
                f"the model {wanted!r} is not served here; GET /v1/models lists "
                f"{self.model_name!r}",
                "model_not_found",
            )
        self.running.acquire(caller)
        released = False
        try:
            progress = stream and kind == "generate"  # completions stream only the text
            events = self.model.options(stream=True).run.remote(body, kind, progress)
            try:
                first = await events.__anext__()
                if first["event"] == "error":
                    raise ApiError(first["status"], first["body"]["error"]["message"])
                if stream:
                    sse = self._stream(first, events, caller, kind)
                    # Started here, so its `finally` (which frees the slot) runs even if the
                    # client is gone before the response begins: asyncio closes it then.
                    opening = await sse.__anext__()
                    released = True
                    return StreamingResponse(_chain(opening, sse), media_type="text/event-stream")
                async for event in events:
                    if event["event"] == "done":
                        return self._answer(event["result"], kind)
                    if event["event"] == "error":
                        return JSONResponse(event["body"], status_code=event["status"])
                raise ApiError(500, "the model replica ended the request without an answer")
            except asyncio.CancelledError:  # the client went away: stop the decoding
                events.cancel()
                raise
        finally:
            if not released:
                self.running.release(caller)

    def _answer(self, result: dict[str, Any], kind: str) -> JSONResponse:
        if kind == "completion":
            return JSONResponse(CompletionIds(self.model_name).answer(result))
        return JSONResponse(result)

    async def _stream(
        self, first: dict[str, Any], events: Any, caller: str, kind: str
    ) -> AsyncIterator[str]:
        ids = CompletionIds(self.model_name)
        try:
            if kind == "generate":
                yield _sse({"replica": first["replica"]}, "start")
            else:
                yield _sse(ids.chunk(""))  # OpenAI streams may open with an empty chunk
            async for event in events:
                if kind == "generate":
                    name = event.pop("event")
                    data = event.get("result", event.get("body", event))
                    yield _sse(data, name)
                elif event["event"] == "done":
                    yield _sse(ids.chunk(event["result"]["text"]))
                    reason = ids.answer(event["result"])["choices"][0]["finish_reason"]
                    yield _sse(ids.chunk("", reason))
                    yield "data: [DONE]\n\n"
                elif event["event"] == "error":
                    yield _sse(event["body"])
        except _UNAVAILABLE:
            logger.warning("a model replica became unavailable mid-stream")
            gone = ApiError(503, REPLICA_GONE, "replica_unavailable").body()
            yield _sse(gone, "error") if kind == "generate" else _sse(gone)
        finally:
            events.cancel()  # the client disconnected (or the answer is out): free the slot
            self.running.release(caller)
