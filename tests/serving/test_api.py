"""The HTTP API against the real team server (tests/serving/conftest.py): auth, limits, the
endpoints, and answers equal to local decoding (`diffcoder generate --json`, the FIM prompt)."""

from __future__ import annotations

import json

import pytest

from diffcoder.cli.main import main as diffcoder_main
from diffcoder.editing.fim_prompt import build_fim_prompt
from diffcoder.model.engine import load_engine
from diffcoder.model.types import DecodeConfig
from tests.serving.conftest import MAX_CONCURRENT, MAX_REQUEST_TOKENS, call

TIMING = {"prefill_seconds", "decode_seconds", "model_seconds"}
PROMPT = "def count_words(text):\n"


@pytest.fixture(scope="module")
def local_engine(team_server):
    return load_engine(team_server.model)


def test_the_cli_printed_the_url_and_what_it_loaded(team_server):
    printed = "".join(team_server.printed)
    assert f"DiffCoder team server at {team_server.url} (bearer tokens required)" in printed
    assert "model: unquantized on cpu" in printed and "1 replica(s)" in printed


@pytest.mark.parametrize(
    "method, path", [("GET", "/v1/models"), ("GET", "/v1/tokenizer"), ("POST", "/v1/generate")]
)
def test_every_endpoint_but_health_needs_a_valid_token(team_server, method, path):
    body = {"prompt": "x"} if method == "POST" else None
    missing = call(team_server, method, path, body, token=None)
    assert missing.status == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in missing.json()["error"]["message"]
    wrong = call(
        team_server, method, path, body, token=None, headers={"Authorization": "Bearer x" * 30}
    )
    assert wrong.status == 401 and "not valid" in wrong.json()["error"]["message"]
    assert call(team_server, method, path, body, token=7).status == 200


def test_tokens_never_reach_the_log(team_server):
    assert call(team_server, "GET", "/v1/models", token=3).status == 200
    log = team_server.log.read_text("utf-8")
    assert not any(token in log for token in team_server.tokens)


def test_health_needs_no_token(team_server):
    reply = call(team_server, "GET", "/healthz", token=None)
    assert reply.status == 200 and reply.json()["status"] == "ok"


def test_models_lists_the_checkpoint(team_server):
    entry = call(team_server, "GET", "/v1/models").json()["data"][0]
    assert entry["id"] == "tiny" and entry["device"] == "cpu" and entry["object"] == "model"


def test_tokenizer_carries_files_template_special_ids_and_limits(team_server, local_engine):
    payload = call(team_server, "GET", "/v1/tokenizer").json()
    assert set(payload["files"]) >= {"tokenizer.json", "tokenizer_config.json"}
    assert payload["special"]["mask"] == local_engine.special.mask
    assert sorted(payload["special"]["banned"]) == sorted(local_engine.special.banned)
    assert payload["chat_template"] == local_engine.tokenizer.chat_template
    assert payload["limits"] == {
        "max_request_tokens": MAX_REQUEST_TOKENS,
        "max_concurrent": MAX_CONCURRENT,
    }


@pytest.mark.parametrize(
    "flags, body",
    [
        ([], {}),
        (["--chat"], {"chat": True}),
        (["--mode", "parity", "--threshold", "none"], {"mode": "parity", "threshold": None}),
        (["--draft-ids", "5,6,7,8,9"], {"draft_ids": [5, 6, 7, 8, 9]}),
        (
            ["--temperature", "0.8", "--seed", "3", "--stop", "e"],
            {"temperature": 0.8, "seed": 3, "stop": ["e"]},
        ),
    ],
)
def test_generate_equals_local_generate_json(team_server, capsys, flags, body):
    args = ["generate", "--model", str(team_server.model), "--prompt", PROMPT, "--json"]
    assert diffcoder_main([*args, "--max-new-tokens", "12", "--device", "cpu", *flags]) == 0
    local = json.loads(capsys.readouterr().out)
    reply = call(
        team_server, "POST", "/v1/generate", {"prompt": PROMPT, "max_new_tokens": 12, **body}
    )
    assert reply.status == 200, reply.body
    remote = reply.json()
    assert list(remote) == list(local)  # the same keys, in the same order
    assert {k: v for k, v in remote.items() if k not in TIMING} == {
        k: v for k, v in local.items() if k not in TIMING
    }


def test_generate_streams_progress_then_the_answer(team_server):
    body = {"prompt": PROMPT, "max_new_tokens": 8, "stream": True}
    reply = call(team_server, "POST", "/v1/generate", body)
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/event-stream")
    events = reply.events()
    names = [name for name, _ in events]
    assert names[0] == "start" and names[-1] == "done" and "progress" in names
    steps = [data for name, data in events if name == "progress"]
    assert [s["step"] for s in steps] == list(range(1, len(steps) + 1))
    done = events[-1][1]
    assert done["nfe"] == steps[-1]["nfe"] and done["generated_tokens"] == 8
    plain = call(team_server, "POST", "/v1/generate", {"prompt": PROMPT, "max_new_tokens": 8})
    assert plain.json()["token_ids"] == done["token_ids"]


def test_completions_fill_in_the_middle_like_local_decoding(team_server, local_engine):
    prefix, suffix = "def add(a, b):\n    return ", "\n\n\nprint(add(1, 2))\n"
    body = {"model": "tiny", "prompt": prefix, "suffix": suffix, "max_tokens": 10, "stop": ["\n\n"]}
    reply = call(team_server, "POST", "/v1/completions", body)
    assert reply.status == 200, reply.body
    answer = reply.json()
    fim = build_fim_prompt(
        local_engine.tokenizer, text=prefix + suffix, cursor=len(prefix),
        context_tokens=MAX_REQUEST_TOKENS, max_new_tokens=10,
    )  # fmt: skip
    local = local_engine.generate(
        fim.prompt_ids, DecodeConfig(max_new_tokens=10, stop_strings=("\n\n",))
    )
    assert answer["object"] == "text_completion" and answer["model"] == "tiny"
    choice = answer["choices"][0]
    assert choice["text"] == local.text
    assert choice["finish_reason"] == ("length" if local.finish_reason == "length" else "stop")
    assert answer["usage"]["prompt_tokens"] == len(fim.prompt_ids)
    assert answer["usage"]["completion_tokens"] == len(local.token_ids)

    stream = call(team_server, "POST", "/v1/completions", {**body, "stream": True}).events()
    assert stream[-1] == ("message", "[DONE]")
    chunks = [data["choices"][0] for _, data in stream[:-1]]
    assert "".join(c["text"] for c in chunks) == choice["text"]
    assert chunks[-1]["finish_reason"] == choice["finish_reason"]


def test_completions_without_suffix_continue_the_prompt(team_server, local_engine):
    reply = call(team_server, "POST", "/v1/completions", {"prompt": PROMPT, "max_tokens": 6})
    ids = local_engine.tokenizer.encode(PROMPT, add_special_tokens=False)
    local = local_engine.generate(ids, DecodeConfig(max_new_tokens=6))
    assert reply.json()["choices"][0]["text"] == local.text


@pytest.mark.parametrize(
    "path, body, status, words",
    [
        ("/v1/generate", {"prompt": "x", "max_new_tokens": MAX_REQUEST_TOKENS}, 400, "at most"),
        (
            "/v1/generate",
            {"prompt_ids": [5] * (MAX_REQUEST_TOKENS + 1)},
            413,
            "--max-request-tokens",
        ),
        ("/v1/completions", {"prompt": "x", "max_tokens": 5000}, 400, "max_tokens=5000"),
        ("/v1/generate", {"promt": "x"}, 400, "promt: Extra inputs"),
        ("/v1/generate", {"prompt": "x", "mode": "parity", "max_new_tokens": 5}, 400, "multiple"),
        ("/v1/generate", {"prompt_ids": [10**6]}, 400, "not a token of this model"),
        ("/v1/generate", {"prompt": "x", "prompt_ids": [1]}, 400, "exactly one"),
        ("/v1/completions", {"prompt": "x", "n": 2}, 400, "n and best_of"),
        ("/v1/completions", {"model": "gpt-4", "prompt": "x"}, 404, "GET /v1/models"),
    ],
)
def test_limits_and_bad_requests_are_refused_clearly(team_server, path, body, status, words):
    reply = call(team_server, "POST", path, body)
    assert reply.status == status, reply.body
    assert words in reply.json()["error"]["message"]


def test_a_huge_body_is_refused_unread(team_server):
    body = b'{"prompt": "' + b"x" * (2 << 20) + b'"}'
    reply = call(team_server, "POST", "/v1/generate", body)
    assert reply.status == 413 and "bytes" in reply.json()["error"]["message"]
    reply = call(team_server, "POST", "/v1/generate", b"{not json")
    assert reply.status == 400 and "not JSON" in reply.json()["error"]["message"]
