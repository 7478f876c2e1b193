"""Unit tests of the server's pure pieces: settings, infill trimming, the handler guard, and a
server module that imports no torch."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from diffcoder.editing.infill_pipeline import trim_middle
from diffcoder.lsp_server.documents import InternalError, RequestFailed
from diffcoder.lsp_server.server import guarded
from diffcoder.lsp_server.settings import DEFAULT_INSTRUCTIONS, parse_settings


def test_settings_read_camel_case_flat_or_nested():
    raw = {"modelPath": "/m", "edit": {"maxNewTokens": 32, "rejectSyntaxErrors": False}}
    for data in (raw, {"diffcoder": raw}):
        settings, problems = parse_settings(data)
        assert problems == []
        assert settings.model_path == "/m" and settings.edit.max_new_tokens == 32
        assert settings.edit.reject_syntax_errors is False
        assert settings.edit.instructions == list(DEFAULT_INSTRUCTIONS)


def test_each_invalid_value_falls_back_to_its_default_only():
    settings, problems = parse_settings(
        {"quant": "3bit", "device": "tpu", "inline": {"debounceMs": "soon", "enabled": False}}
    )
    assert settings.quant == "auto" and settings.device == "auto"
    assert settings.inline.debounce_ms == 150 and settings.inline.enabled is False
    assert len(problems) == 3 and all("using default" in p for p in problems)


def test_settings_that_are_not_an_object_give_defaults():
    settings, problems = parse_settings(["nope"])
    assert settings.edit.max_new_tokens == 2048 and problems
    assert parse_settings(None) == (settings, [])


def test_trim_middle_stops_at_a_blank_line_and_drops_suffix_echo():
    assert trim_middle("x = 1\n\ny = 2\n", "") == "x = 1\n"
    assert trim_middle("return a + b\n    print()", "    print()\n") == "return a + b\n"
    assert trim_middle("\ufffd\ufffd", "") == ""
    assert trim_middle("   \n", "") == ""


def test_trim_middle_drops_a_rewritten_line_head():
    # the cursor after `    return `; the model wrote the whole line again
    assert trim_middle("    return a + b\n", "\n", "    return ") == "a + b\n"
    assert trim_middle("        total += 1\n", "", "        ") == "total += 1\n"
    assert trim_middle("a + b\n", "\n", "    return ") == "a + b\n"  # nothing repeated


def test_guard_turns_out_of_memory_into_advice():
    def handler(ls, params):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with pytest.raises(RequestFailed, match="ran out of memory.*4bit"):
        guarded(handler)(None, None)

    async def decoding(ls, params):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with pytest.raises(RequestFailed, match="ran out of memory.*4bit"):
        asyncio.run(guarded(decoding)(None, None))


def test_guard_explains_unexpected_errors_and_keeps_rpc_errors():
    def broken(ls, params):
        raise KeyError("surprise")

    def refused(ls, params):
        raise RequestFailed("stale")

    async def refused_later(ls, params):
        raise RequestFailed("stale")

    with pytest.raises(InternalError, match="internal error.*KeyError") as raised:
        guarded(broken)(None, None)
    assert raised.value.code == -32603  # JSON-RPC InternalError: a bug, not a refusal
    with pytest.raises(RequestFailed, match="^stale$"):
        guarded(refused)(None, None)
    with pytest.raises(RequestFailed, match="^stale$"):
        asyncio.run(guarded(refused_later)(None, None))


def test_the_server_starts_without_torch():
    # a remote backend must not need torch: only loading a local engine imports it
    code = (
        "import sys\n"
        "from diffcoder.lsp_server.server import create_server\n"
        "create_server(demo_model=False)\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
