"""`diffcoder generate --prompts-jsonl FILE [--batch-size N] --json`: many requests, one JSON
object per line in and out, then a summary; with N > 1 they decode in shared batched forwards.

Each input line: `prompt` (text) or `prompt_ids`, and optionally `max_new_tokens`, `draft_ids`
and `stop` (a string or a list); the command's flags set everything else.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from diffcoder.model.backend import GenerationBackend
    from diffcoder.model.types import DecodeConfig, GenerationResult

KEYS = ("prompt", "prompt_ids", "max_new_tokens", "draft_ids", "stop")


@dataclass(frozen=True)
class JsonlRequest:
    prompt: str | None
    prompt_ids: list[int] | None
    max_new_tokens: int | None
    draft_ids: list[int] | None
    stop: tuple[str, ...] | None


def _ids(value: Any, where: str, key: str) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in value
    ):
        raise ValueError(f"{where}: {key!r} must be a list of token ids (integers 0 or more)")
    return value


def read_requests(path: Path) -> list[JsonlRequest]:
    """Every request of the file; a bad line is an error naming the line and the fix."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as error:
        raise ValueError(f"cannot read --prompts-jsonl {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ValueError(f"--prompts-jsonl {path} is not UTF-8; convert it to UTF-8") from None
    requests = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"--prompts-jsonl {path} line {number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            message = f"{where} is not JSON ({error.msg}); write one object per line"
            raise ValueError(message) from None
        if not isinstance(item, dict):
            raise ValueError(f"{where} is not a JSON object")
        unknown = sorted(set(item) - set(KEYS))
        if unknown:
            raise ValueError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
        if ("prompt" in item) == ("prompt_ids" in item):
            raise ValueError(f"{where}: give exactly one of 'prompt' (text) and 'prompt_ids'")
        prompt = item.get("prompt")
        if prompt is not None and not isinstance(prompt, str):
            raise ValueError(f"{where}: 'prompt' must be a string")
        budget = item.get("max_new_tokens")
        if budget is not None and (not isinstance(budget, int) or budget < 1):
            raise ValueError(f"{where}: 'max_new_tokens' must be a positive integer")
        stop = item.get("stop")
        if isinstance(stop, str):
            stop = [stop]
        if stop is not None and not (
            isinstance(stop, list) and all(isinstance(s, str) for s in stop)
        ):
            raise ValueError(f"{where}: 'stop' must be a string or a list of strings")
        requests.append(
            JsonlRequest(
                prompt=prompt,
                prompt_ids=_ids(item["prompt_ids"], where, "prompt_ids")
                if "prompt_ids" in item
                else None,
                max_new_tokens=budget,
                draft_ids=_ids(item["draft_ids"], where, "draft_ids")
                if "draft_ids" in item
                else None,
                stop=None if stop is None else tuple(stop),
            )
        )
    if not requests:
        raise ValueError(f"--prompts-jsonl {path} holds no requests; write one JSON object a line")
    return requests


def _prepared(
    requests: list[JsonlRequest], backend: GenerationBackend, config: DecodeConfig, chat: bool
) -> list[tuple[list[int], DecodeConfig, list[int] | None]]:
    from diffcoder.model.backend import encode_prompt

    vocabulary = len(backend.tokenizer)  # type: ignore[arg-type]
    out = []
    for number, request in enumerate(requests, 1):
        if request.prompt is not None:
            ids = encode_prompt(backend.tokenizer, request.prompt, chat=chat)
        else:
            ids = list(request.prompt_ids or [])
        unknown = [i for i in ids + (request.draft_ids or []) if i >= vocabulary]
        if unknown:
            raise ValueError(
                f"request {number}: token id {unknown[0]} is not in this model's tokenizer "
                f"(ids 0 to {vocabulary - 1})"
            )
        if not ids:
            raise ValueError(f"request {number}: the prompt is empty")
        changes: dict[str, Any] = {}
        if request.max_new_tokens is not None:
            changes["max_new_tokens"] = request.max_new_tokens
        if request.stop is not None:
            changes["stop_strings"] = request.stop
        out.append((ids, dataclasses.replace(config, **changes), request.draft_ids))
    return out


def _batched(backend: GenerationBackend, batch_size: int, needed: int) -> GenerationBackend:
    """The local engine with batching (slots sized to the largest request)."""
    from diffcoder.model.batching import BatchedEngine
    from diffcoder.model.engine import DiffusionEngine

    if batch_size > 1 and isinstance(backend, DiffusionEngine):
        return BatchedEngine.from_engine(backend, max_batch=batch_size, context=needed)
    return backend


def run_jsonl(
    args: argparse.Namespace,
    config: DecodeConfig,
    *,
    load: Callable[[argparse.Namespace], GenerationBackend],
    to_json: Callable[[GenerationResult, GenerationBackend, DecodeConfig], dict[str, Any]],
) -> int:
    """Decode every request of --prompts-jsonl; print each answer (`to_json`: the keys of a
    single `generate --json`), then the summary. `load` loads the backend the flags name."""
    from diffcoder.cli.interrupt import cancel_on_interrupt
    from diffcoder.model.canvas import Canvas
    from diffcoder.model.sampler import uses_draft

    if not args.json:
        raise ValueError("--prompts-jsonl prints JSON lines; add --json")
    requests = read_requests(args.prompts_jsonl)
    backend = load(args)
    prepared = _prepared(requests, backend, config, args.chat)
    needed = max(
        Canvas.capacity_for(len(ids), cfg, drafting=uses_draft(cfg, draft))
        for ids, cfg, draft in prepared
    )
    runner = _batched(backend, args.batch_size, needed)
    started = time.perf_counter()
    with cancel_on_interrupt() as cancel:

        def one(item) -> GenerationResult:
            ids, cfg, draft = item
            return runner.generate(ids, cfg, draft_ids=draft, cancel=cancel)

        try:
            if runner.concurrency > 1:
                with ThreadPoolExecutor(max_workers=2 * runner.concurrency) as pool:
                    results = list(pool.map(one, prepared))
            else:
                results = [one(item) for item in prepared]
        finally:
            close = getattr(runner, "close", None)
            if runner is not backend and close is not None:
                close()
    seconds = time.perf_counter() - started
    for result, (_, cfg, _) in zip(results, prepared, strict=True):
        print(json.dumps(to_json(result, backend, cfg)))
    counts = getattr(runner, "counts", None)
    forwards = counts.forwards if counts is not None else sum(r.nfe for r in results)
    summary = {
        "requests": len(results),
        "forwards": forwards,
        "tokens": sum(len(r.token_ids) for r in results),
        "seconds": round(seconds, 6),
    }
    print(json.dumps({"summary": summary}))
    if any(r.finish_reason == "cancelled" for r in results):
        print(
            "diffcoder generate: cancelled; the lines above are what was decoded", file=sys.stderr
        )
        return 1
    return 0
