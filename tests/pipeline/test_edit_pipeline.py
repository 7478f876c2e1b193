"""The instruction-edit pipeline end to end on tiny checkpoints and with scripted answers."""

from __future__ import annotations

import pytest

from diffcoder.editing.edit_pipeline import EditRequest, prepare_edit, run_edit
from diffcoder.editing.text_edits import apply_replacements
from diffcoder.model.engine import load_engine
from diffcoder.model.types import LoadOptions
from diffcoder.testing.scripted_backend import ScriptedBackend
from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint

SOURCE = """import math


def mean(xs):
    return sum(xs) / len(xs)


def area(r):
    return math.pi * r * r
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    path = make_tiny_checkpoint(tmp_path_factory.mktemp("pipe") / "tiny", seed=4)
    return load_engine(path, LoadOptions(device="cpu", quant="none", dtype="float32"))


def request(**overrides) -> EditRequest:
    fields = dict(
        text=SOURCE,
        instruction="Handle the empty list.",
        path="stats.py",
        cursor=SOURCE.index("return sum"),
    )
    return EditRequest(**{**fields, **overrides})


def scripted(engine, text: str, finish: str = "stop") -> ScriptedBackend:
    """The engine's own tokenizer, answering `text`."""
    return ScriptedBackend(engine.tokenizer, engine.special, text, finish_reason=finish, steps=1)


def test_region_is_the_function_at_the_cursor(engine):
    language, region, prompt = prepare_edit(engine.tokenizer, request())
    assert language == "python" and region.kind == "function"
    assert SOURCE[region.start : region.end].startswith("def mean")
    assert "def area" not in SOURCE[region.start : region.end]
    assert prompt.stop_strings and prompt.draft_ids


def test_scripted_answer_becomes_minimal_replacements(engine):
    answer = "def mean(xs):\n    if not xs:\n        return 0.0\n    return sum(xs) / len(xs)\n```"
    backend = scripted(engine, answer)
    result = run_edit(backend, request())
    assert result.outcome == "proposed" and result.detail is None
    assert result.new_text == SOURCE.replace(
        "def mean(xs):\n", "def mean(xs):\n    if not xs:\n        return 0.0\n"
    )
    assert apply_replacements(SOURCE, result.replacements) == result.new_text
    assert len(result.replacements) == 1 and result.replacements[0].start > 0
    # the edit path hands the region's original text to the decoder as its draft
    assert backend.calls[0].draft_ids == result.prompt.draft_ids
    assert backend.calls[0].config.stop_strings == result.prompt.stop_strings


def test_syntax_errors_are_rejected_unless_allowed(engine):
    broken = "def mean(xs:\n    return sum(xs) / len(xs)\n"
    backend = scripted(engine, broken)
    rejected = run_edit(backend, request())
    assert rejected.outcome == "refused" and "syntax" in rejected.detail
    assert rejected.replacements == [] and rejected.new_text == SOURCE
    allowed = run_edit(backend, request(reject_syntax_errors=False))
    assert allowed.proposed and "def mean(xs:" in allowed.new_text


@pytest.mark.parametrize("finish", ["length", "cancelled"])
def test_unfinished_answers_change_nothing(engine, finish):
    backend = scripted(engine, "def mean(xs):\n    if not", finish)
    result = run_edit(backend, request())
    assert result.outcome == {"length": "refused", "cancelled": finish}[finish]
    assert result.detail and result.replacements == [] and result.new_text == SOURCE


def test_no_draft_when_disabled(engine):
    backend = scripted(engine, "def mean(xs):\n    return 0\n")
    run_edit(backend, request(use_draft=False))
    assert backend.calls[0].draft_ids is None


def test_real_decoding_is_the_same_with_and_without_the_draft(engine):
    with_draft = run_edit(engine, request(reject_syntax_errors=False))
    without = run_edit(engine, request(reject_syntax_errors=False, use_draft=False))
    assert with_draft.generation.token_ids == without.generation.token_ids
    assert with_draft.generation.nfe <= without.generation.nfe
    assert apply_replacements(SOURCE, with_draft.replacements) == with_draft.new_text


def test_max_new_tokens_caps_the_region_budget(engine):
    backend = scripted(engine, "def mean(xs):\n    if not", finish="length")
    result = run_edit(backend, request(max_new_tokens=5))
    assert backend.calls[0].config.max_new_tokens == 5 < result.prompt.max_new_tokens
    assert result.detail == "the answer did not end within 5 tokens"


def test_sampling_settings_reach_the_decoder(engine):
    backend = scripted(engine, "def mean(xs):\n    return 0\n```")
    run_edit(backend, request(temperature=0.4, seed=7))
    assert (backend.calls[0].config.temperature, backend.calls[0].config.seed) == (0.4, 7)


def test_an_instruction_too_long_is_refused_before_decoding(engine):
    from diffcoder.editing.budgets import PromptTooLongError

    backend = scripted(engine, "def mean(xs):\n    return 0\n```")
    with pytest.raises(PromptTooLongError) as error:
        run_edit(backend, request(instruction="Handle it. " * 3000, context_tokens=2048))
    message = str(error.value)
    assert message.startswith("the instruction is too long: ") and "by at least" in message
    assert "smaller region" not in message and backend.calls == []


def test_the_column_names_the_function_the_pipeline_edits(engine):
    text = "function a() { return 1 } function b() { return 2 }\n"
    backend = scripted(engine, "function a() { return 1 } function b() { return 3 }\n```")
    result = run_edit(
        backend, request(text=text, path="ab.js", cursor=text.index("return 2"), instruction="3")
    )
    assert result.region.name == "b" and "function `a` shares a line" in result.region.reason
    assert result.new_text == text.replace("return 2", "return 3")
