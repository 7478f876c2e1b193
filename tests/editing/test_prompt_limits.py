"""When an edit prompt does not fit: the message names what is too long (the instruction, the
region, both, or the context itself) and by how many tokens, never a negative budget; the checks
that need no tokenizer never refuse an instruction that fits. And the documents DiffCoder refuses.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffcoder.editing.budgets import (
    MAX_CHARS_PER_TOKEN,
    PromptTooLongError,
    check_instruction,
)
from diffcoder.editing.edit_pipeline import EditRequest, prepare_edit
from diffcoder.editing.edit_prompt import build_edit_prompt
from diffcoder.editing.text_checks import MAX_DOCUMENT_CHARS, text_problem

FILE = "import os\n\n\ndef f(x):\n    return x + 1\n\n\ndef g(y):\n    return y * 2\n"


def functions(n: int) -> str:
    return "".join(f"def f{i}(x):\n    return x * {i} + {i}\n\n" for i in range(n))


def too_long(tokenizer, text: str, start: int, end: int, instruction: str, context: int) -> str:
    with pytest.raises(PromptTooLongError) as error:
        build_edit_prompt(
            tokenizer,
            file_text=text,
            region_start=start,
            region_end=end,
            instruction=instruction,
            language="python",
            context_tokens=context,
        )
    message = str(error.value)
    assert not re.search(r"-\d", message), message  # no negative budget
    return message


def test_a_long_instruction_is_blamed_with_how_much_to_cut(any_tokenizer):
    start, end = FILE.index("def f"), FILE.index("def g")
    instruction = "Please make it faster. " * 2000
    message = too_long(any_tokenizer, FILE, start, end, instruction, 4096)
    assert message.startswith("the instruction is too long: ")
    tokens = len(any_tokenizer.encode(instruction.strip(), add_special_tokens=False))
    assert f"{tokens} tokens" in message and "region" not in message.split(";")[0]
    over = int(re.search(r"by at least (\d+) tokens", message).group(1))
    # cutting that many tokens' worth of text makes it fit (give or take a merge or two)
    cut = instruction.strip()[: -(over * len(instruction) // tokens + 40)]
    build_edit_prompt(
        any_tokenizer,
        file_text=FILE,
        region_start=start,
        region_end=end,
        instruction=cut,
        language="python",
        context_tokens=4096,
    )
    assert over > 0


def test_a_large_region_is_blamed_when_the_instruction_is_short(small_tokenizer):
    text = functions(80)
    message = too_long(small_tokenizer, text, 0, len(text), "Add type hints.", 600)
    assert message.startswith("the region is too large: ") and "select a smaller region" in message


def test_both_when_neither_alone_would_do(small_tokenizer):
    text = functions(12)
    instruction = "Rename every function to something clearer. " * 30
    message = too_long(small_tokenizer, text, 0, len(text), instruction, 500)
    assert message.startswith("the instruction (") and "and the region (" in message
    assert "shorten the instruction and select a smaller region" in message


def test_a_context_too_small_for_any_prompt(small_tokenizer):
    message = too_long(small_tokenizer, FILE, 0, 5, "x", 40)
    assert "context is too small" in message


def test_the_pipeline_raises_the_same_message(small_tokenizer):
    """What the CLI and the language server show comes from here."""
    request = EditRequest(text=FILE, instruction="Be fast. " * 5000, path="f.py", cursor=20)
    with pytest.raises(PromptTooLongError, match=r"^the instruction is too long: \d+ tokens"):
        prepare_edit(small_tokenizer, request)


@pytest.mark.parametrize("instruction", ["", "   ", "\n\t"])
def test_an_empty_instruction_is_refused_without_a_tokenizer(instruction):
    with pytest.raises(ValueError, match="the instruction is empty; say what to change"):
        check_instruction(instruction)


def test_the_bound_without_a_tokenizer():
    check_instruction("x" * (MAX_CHARS_PER_TOKEN * 100), context_tokens=101)
    with pytest.raises(PromptTooLongError, match=r"instruction is too long: 51200 characters"):
        check_instruction("x" * (MAX_CHARS_PER_TOKEN * 100), context_tokens=100)
    with pytest.raises(PromptTooLongError, match="at least 8192 tokens"):
        check_instruction("word " * (MAX_CHARS_PER_TOKEN * 8192 // 5 + 1))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.text(
        alphabet=st.sampled_from([" ", "\n", "\t", "a", "Z", "9", "_", "(", "é", "日", "😀", "="]),
        max_size=3000,
    )
)
def test_the_bound_never_exceeds_the_real_token_count(real_tokenizer, text):
    """A token never spans more than MAX_CHARS_PER_TOKEN characters, so the check without a
    tokenizer refuses only instructions that cannot fit."""
    tokens = len(real_tokenizer.encode(text, add_special_tokens=False, split_special_tokens=True))
    assert tokens * MAX_CHARS_PER_TOKEN >= len(text)


def test_no_token_of_the_real_vocabulary_is_longer_than_the_bound(real_tokenizer):
    longest = max(len(real_tokenizer.decode([i])) for i in range(len(real_tokenizer)))
    assert longest <= MAX_CHARS_PER_TOKEN


def test_documents_refused_as_the_language_server_refuses_them():
    assert text_problem("def f():\n    pass\n", "f.py") is None
    assert "looks binary" in (text_problem("a\x00b", "f.py") or "")
    assert "too large" in (text_problem("x" * (MAX_DOCUMENT_CHARS + 1), "f.py") or "")
    assert text_problem("x" * MAX_DOCUMENT_CHARS, "f.py") is None
