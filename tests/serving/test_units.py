"""The team server's pieces without Ray: tokens, limits, request preparation, the command lines'
refusals, and a replica whose caller goes away (the decoding stops, the slot is free)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading

import pytest

from diffcoder.cli.main import main as diffcoder_main
from diffcoder.editing.fim_prompt import build_fim_prompt
from diffcoder.lsp_server.__main__ import main as lsp_main
from diffcoder.model.types import GenerationResult, LoadOptions
from diffcoder.serving.auth import ConcurrencyLimit, TokenCheck, digest, is_loopback, read_tokens
from diffcoder.serving.openai import CompletionRequest, prepare_completion
from diffcoder.serving.replica import ModelReplica, SerialBackend
from diffcoder.serving.requests import ApiError, GenerateRequest, Limits, parse_body

TOKEN = "a-team-token-of-some-length"


def test_tokens_are_matched_by_digest_and_named_by_number():
    check = TokenCheck([digest("x" * 20), digest(TOKEN)])
    assert check.caller(f"Bearer {TOKEN}") == "token-2"
    assert check.caller(f"bearer  {TOKEN} ") == "token-2"
    for header in (None, "", "Bearer", f"Basic {TOKEN}", f"Bearer {TOKEN}x"):
        with pytest.raises(ApiError) as refused:
            check.caller(header)
        assert refused.value.status == 401
    assert TokenCheck(None).caller(None) == "anonymous"  # no token file: loopback only


def test_the_token_file_is_checked(tmp_path):
    tokens = tmp_path / "tokens"
    tokens.write_text(f"# comment\n\n{TOKEN}\n", "utf-8")
    assert read_tokens(tokens) == [TOKEN]
    for text, words in (("# only a comment\n", "holds no token"), ("short\n", "too short")):
        tokens.write_text(text, "utf-8")
        with pytest.raises(ValueError, match=words):
            read_tokens(tokens)


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
    ],
)
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


def test_the_concurrency_limit_is_per_caller():
    limit = ConcurrencyLimit(2)
    limit.acquire("a")
    with limit.slot("a"):
        with pytest.raises(ApiError) as busy:
            limit.acquire("a")
        assert busy.value.status == 429
        limit.acquire("b")
    assert limit.running("a") == 1 and limit.running("b") == 1


def test_request_size_limits():
    limits = Limits(max_request_tokens=100)
    limits.check(60, 40, 0)
    with pytest.raises(ApiError) as too_big:
        limits.check(60, 41, 0)
    assert too_big.value.status == 413
    with pytest.raises(ApiError) as too_many:
        limits.check(60, 0, 41, "max_tokens")
    assert too_many.value.status == 400 and "ask for at most 40" in too_many.value.message


def test_bad_bodies_name_every_wrong_field():
    with pytest.raises(ApiError, match="max_new_tokens: .*greater than or equal to 1; mode"):
        parse_body(GenerateRequest, json.dumps({"max_new_tokens": 0, "mode": "x"}).encode())
    with pytest.raises(ApiError, match="must be a JSON object"):
        parse_body(GenerateRequest, b"[1, 2]")


@pytest.fixture(scope="module")
def replica(tmp_path_factory):
    from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint

    model = make_tiny_checkpoint(tmp_path_factory.mktemp("replica") / "tiny")
    return ModelReplica(str(model), LoadOptions(device="cpu"), 4, Limits(max_request_tokens=4096))


def test_completions_use_the_language_servers_fim_prompt(replica):
    tokenizer = replica.backend.tokenizer
    request = CompletionRequest(prompt="def f(x):\n    return ", suffix="\n\nf(1)\n", max_tokens=7)
    prepared = prepare_completion(request, tokenizer, replica.vocab_size, replica.limits)
    fim = build_fim_prompt(
        tokenizer, text=request.prompt + request.suffix, cursor=len(request.prompt),
        context_tokens=4096, max_new_tokens=7,
    )  # fmt: skip
    assert prepared.prompt_ids == fim.prompt_ids and prepared.config.max_new_tokens == 7


def test_a_caller_that_goes_away_stops_the_decoding(replica):
    """What Serve does when the HTTP client disconnects: the replica's stream is closed."""
    finished: list[GenerationResult] = []
    generate = replica.backend.generate

    def recording(*args, **kwargs):
        finished.append(generate(*args, **kwargs))
        return finished[-1]

    replica.backend.generate = recording
    body = json.dumps({"prompt": "def f(x):\n", "max_new_tokens": 4000}).encode()

    async def go_away_after_two_steps() -> list[str]:
        stream = replica.run(body, "generate", True)
        seen = [(await stream.__anext__())["event"] for _ in range(3)]
        await stream.aclose()
        return seen

    try:
        assert asyncio.run(go_away_after_two_steps()) == ["start", "progress", "progress"]
        deadline = threading.Event()
        for _ in range(200):
            if finished:
                break
            deadline.wait(0.05)
    finally:
        replica.backend.generate = generate
    assert finished and finished[0].finish_reason == "cancelled"
    assert len(finished[0].token_ids) < 4000


def test_serve_refuses_a_public_address_without_tokens(capsys):
    assert diffcoder_main(["serve", "--host", "0.0.0.0"]) == 2
    error = capsys.readouterr().err
    assert "refusing to listen on 0.0.0.0 without --token-file" in error and "127.0.0.1" in error


def test_serve_refuses_a_busy_port_and_a_bad_token_file(capsys, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        assert diffcoder_main(["serve", "--port", port]) == 2
    assert f"port {port} on 127.0.0.1 is in use" in capsys.readouterr().err
    tokens = tmp_path / "tokens"
    tokens.write_text("short\n", "utf-8")
    assert diffcoder_main(["serve", "--host", "0.0.0.0", "--token-file", str(tokens)]) == 2
    assert "too short" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, words",
    [
        (["serve", "--autoscale", "3:1"], "MIN:MAX"),
        (["serve", "--replicas", "2", "--autoscale", "1:2"], "not allowed with"),
    ],
)
def test_serve_flags_are_checked(capsys, argv, words):
    with pytest.raises(SystemExit) as exit_:
        diffcoder_main(argv)
    assert exit_.value.code == 2 and words in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--server", "localhost:8000"], "http://HOST:PORT"),
        (["--server", "http://h:1", "--model", "m"], "not both"),
        (["--token-file", "t"], "goes with --server"),
    ],
)
def test_lsp_server_flags_are_checked(capsys, argv, words):
    with pytest.raises(SystemExit) as exit_:
        lsp_main(argv)
    assert exit_.value.code == 2 and words in capsys.readouterr().err


class _BlockingEngine:
    """Decodes nothing until released; records the order requests reached it."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.order: list[int] = []

    def generate(self, prompt_ids, config, *, draft_ids=None, on_step=None, cancel=None):
        self.order.append(prompt_ids[0])
        self.release.wait(10)
        return GenerationResult([1], "x", "length", 1, len(prompt_ids), 0.0, 0.0)


def test_one_at_a_time_in_arrival_order_and_cancellable_while_waiting():
    engine = _BlockingEngine()
    serial = SerialBackend(engine)
    results: dict[int, GenerationResult] = {}
    cancels = {n: threading.Event() for n in range(4)}

    def request(number: int) -> None:
        results[number] = serial.generate([number], None, cancel=cancels[number])

    threads = []
    for number in range(4):
        threads.append(threading.Thread(target=request, args=(number,)))
        threads[-1].start()
        while len(engine.order) < 1 or (number and len(serial._waiting) < number):
            threading.Event().wait(0.01)  # each in line before the next arrives
    cancels[2].set()  # gives up while waiting
    while 2 not in results:
        threading.Event().wait(0.01)
    engine.release.set()
    for thread in threads:
        thread.join(10)
    assert engine.order == [0, 1, 3]
    assert results[2].finish_reason == "cancelled" and results[2].token_ids == []
    assert all(results[n].finish_reason == "length" for n in (0, 1, 3))
