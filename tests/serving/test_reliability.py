"""Concurrency, load and failure against the real team server: the per-token limit (429) and the
slots freed by disconnecting clients, 32 concurrent clients with none lost, and a replica process
killed mid-request (503, one retry, the next requests served). The kill runs last: the replica
restarts (~10 s) and the session's other tests must not wait for it.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import statistics
import threading
import time
from pathlib import Path

from diffcoder.model.backend import encode_prompt
from diffcoder.model.remote import connect
from diffcoder.model.types import DecodeConfig
from tests.serving.conftest import MAX_CONCURRENT, call

PROMPT = "class LRUCache:\n"
LONG = {"prompt": PROMPT, "max_new_tokens": 1000, "stream": True}
CLIENTS = 32
REPLICA_TITLE = b"ServeReplica:diffcoder:DiffCoderModel"


class Stream:
    """A streamed /v1/generate read event by event; `close` is a client that goes away."""

    def __init__(self, server, token: int, body: dict) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        headers = {**server.auth(token), "Content-Type": "application/json"}
        self.connection.request("POST", "/v1/generate", json.dumps(body), headers)
        self.response = self.connection.getresponse()

    def next_event(self) -> tuple[str, dict] | None:
        name, data = "message", None
        while True:
            line = self.response.readline().decode()
            if not line:
                return None
            line = line.rstrip("\n")
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data = json.loads(line[5:])
            elif not line and data is not None:
                return name, data

    def until(self, wanted: str) -> dict:
        while (event := self.next_event()) is not None:
            if event[0] == wanted:
                return event[1]
        raise AssertionError(f"the stream ended before a {wanted!r} event")

    def close(self) -> None:
        self.connection.close()


def test_the_per_token_limit_answers_429_and_disconnects_free_the_slots(team_server):
    streams = [Stream(team_server, 1, LONG) for _ in range(MAX_CONCURRENT)]
    for stream in streams:
        assert stream.response.status == 200
        stream.until("start")
    refused = call(team_server, "POST", "/v1/generate", {"prompt": "x"}, token=1)
    assert refused.status == 429 and refused.headers["retry-after"] == "1"
    assert "per-token limit" in refused.json()["error"]["message"]
    other = call(team_server, "POST", "/v1/generate", {"prompt": "x", "max_new_tokens": 4}, token=2)
    assert other.status == 200  # the limit is per token
    for stream in streams:
        stream.close()  # the clients go away: their requests are cancelled
    deadline = time.monotonic() + 30
    short = {"prompt": "x", "max_new_tokens": 4}
    while (reply := call(team_server, "POST", "/v1/generate", short, token=1)).status == 429:
        assert time.monotonic() < deadline, "the slots of disconnected clients were not freed"
        time.sleep(0.1)
    assert reply.status == 200
    again = [Stream(team_server, 1, LONG) for _ in range(MAX_CONCURRENT)]
    for stream in again:
        assert stream.response.status == 200
        stream.until("start")
        stream.close()


def test_32_concurrent_clients_are_all_answered(team_server):
    statuses: list[int] = []
    latencies: list[float] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        body = {"prompt": f"{PROMPT}    # client {number}\n", "max_new_tokens": 16}
        started = time.perf_counter()
        try:
            status = call(team_server, "POST", "/v1/generate", body, token=number % 8).status
        except OSError:
            status = 0  # lost: no answer at all
        with lock:
            statuses.append(status)
            latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    wall = time.perf_counter() - started
    lost = CLIENTS - statuses.count(200)
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"\n{CLIENTS} clients on loopback: p50 {cuts[49] * 1000:.0f} ms, "
        f"p99 {cuts[98] * 1000:.0f} ms, {CLIENTS / wall:.1f} requests/s, {lost} lost"
    )
    assert len(statuses) == CLIENTS and lost == 0, statuses


def _replica_pids() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if REPLICA_TITLE in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_killed_replica_answers_503_then_serve_restarts_it(team_server):
    pids = _replica_pids()
    assert len(pids) == 1, pids
    doomed = Stream(team_server, 0, LONG)
    doomed.until("progress")  # decoding on the replica
    backend = connect(team_server.url, team_server.token_file)
    assert backend.concurrency == MAX_CONCURRENT  # the language server may run this many at once
    outcome: dict = {}

    def remote_client() -> None:  # queued behind the long request when the replica dies
        ids = encode_prompt(backend.tokenizer, PROMPT)
        outcome["result"] = backend.generate(ids, DecodeConfig(max_new_tokens=8))

    retrying = threading.Thread(target=remote_client)
    retrying.start()
    time.sleep(0.5)
    os.kill(pids[0], signal.SIGKILL)

    last = None
    while (event := doomed.next_event()) is not None:
        last = event
    assert last is not None and last[0] == "error", last
    assert last[1]["error"]["code"] == 503 and "retry" in last[1]["error"]["message"]
    retrying.join(timeout=180)
    assert outcome["result"].finish_reason in ("eos", "stop", "length")  # after one retry
    reply = call(team_server, "POST", "/v1/generate", {"prompt": PROMPT, "max_new_tokens": 8})
    assert reply.status == 200 and reply.json()["generated_tokens"] >= 1
    assert _replica_pids() not in ([], pids)  # a new replica process
