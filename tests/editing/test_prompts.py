"""Edit and fill-in-the-middle prompts, with the small tokenizer and the real one: the chat template
is used once, budgets hold, the right context survives trimming, FIM tokens come from the vocab."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffcoder.editing.budgets import DEFAULT_CONTEXT_TOKENS, PromptTooLongError, answer_headroom
from diffcoder.editing.edit_prompt import GROWTH, EditPrompt, build_edit_prompt
from diffcoder.editing.fim_prompt import FIM_TOKENS, build_fim_prompt
from diffcoder.editing.output import REGION_MARKER

BOS, EOS = "<[begin\u2581of\u2581sentence]>", "<[end\u2581of\u2581sentence]>"


def big_module(methods: int = 60) -> str:
    """Imports, a class with many methods, and a function after it."""
    parts = ["import os\nimport sys\nfrom pathlib import Path\n\n\nLIMIT = 3\n\n\n"]
    parts.append('class Store:\n    """Keeps records."""\n\n')
    for i in range(methods):
        parts.append(
            f"    def method_{i}(self, value: int) -> int:\n"
            f"        total = value * {i} + len(self.items)\n"
            f"        if total > LIMIT:\n            total -= {i}\n        return total\n\n"
        )
    parts.append("\ndef main() -> int:\n    return Store().method_1(2)\n")
    return "".join(parts)


def method_region(text: str, i: int) -> tuple[int, int]:
    start = text.index(f"    def method_{i}(")
    return start, text.index("\n\n", start) + 1


def edit(tokenizer, text: str, start: int, end: int, **options) -> EditPrompt:
    options = {"instruction": "Return zero early.", "language": "python", **options}
    return build_edit_prompt(
        tokenizer, file_text=text, region_start=start, region_end=end, **options
    )


def test_chat_template_rendered_once_and_encoded_without_new_specials(any_tokenizer):
    text = big_module(3)
    prompt = edit(any_tokenizer, text, *method_region(text, 1), path="store.py")
    encode = any_tokenizer.encode
    assert prompt.prompt_ids == encode(prompt.prompt_text, add_special_tokens=False)
    bos, eos = encode(BOS, add_special_tokens=False), encode(EOS, add_special_tokens=False)
    assert prompt.prompt_ids[:1] == bos  # one BOS opens the user turn, none added on top
    assert prompt.prompt_ids.count(bos[0]) == 2 and prompt.prompt_ids.count(eos[0]) == 1
    assert prompt.prompt_text.startswith(f"{BOS}user\n## File: `store.py`\n```python\n")
    assert prompt.prompt_text.endswith(f"{EOS}{BOS}assistant\n```python\n")


def test_prompt_layout(small_tokenizer):
    text = big_module(3)
    start, end = method_region(text, 1)
    prompt = edit(small_tokenizer, text, start, end, instruction="  Return zero early.\n")
    user = prompt.prompt_text.split("user\n", 1)[1]
    region = text[start:end]
    assert f"## Code Before\n```python\n{region}```\n" in user
    assert "## Instruction\nReturn zero early.\n" in user
    assert f"    # {REGION_MARKER}\n" in user
    assert region not in user.split("## Code Before")[0]  # the region is not shown twice
    assert prompt.stop_strings == ("```",)
    assert prompt.draft_text == region + "```"
    assert prompt.answer_context.start == start and prompt.answer_context.end == end
    assert prompt.context_lines > 0 and prompt.omitted_lines == 0


def test_generation_budget_grows_with_the_region(small_tokenizer):
    text = big_module(3)
    prompt = edit(small_tokenizer, text, *method_region(text, 1))
    assert prompt.region_tokens == len(
        small_tokenizer.encode(prompt.answer_context.original_text, add_special_tokens=False)
    )
    headroom = answer_headroom(DEFAULT_CONTEXT_TOKENS)
    assert prompt.max_new_tokens == math.ceil(GROWTH * prompt.region_tokens) + headroom
    assert (
        edit(small_tokenizer, text, *method_region(text, 1), max_new_tokens=40).max_new_tokens == 40
    )


def test_the_answer_has_room_for_added_code_by_the_context(small_tokenizer):
    assert [answer_headroom(n) for n in (500, 2000, 8192, 32768)] == [64, 125, 512, 2048]
    text = big_module(3)
    small = edit(small_tokenizer, text, *method_region(text, 1), context_tokens=2000)
    large = edit(small_tokenizer, text, *method_region(text, 1))
    assert large.max_new_tokens - small.max_new_tokens == 512 - 125


@pytest.mark.parametrize("budget", [500, 900, 2000, 8192])
def test_prompt_and_generation_fit_the_budget(any_tokenizer, budget):
    text = big_module(400)
    prompt = edit(any_tokenizer, text, *method_region(text, 60), context_tokens=budget)
    assert len(prompt.prompt_ids) + prompt.max_new_tokens <= budget
    assert prompt.max_new_tokens >= prompt.region_tokens
    assert prompt.omitted_lines > 0
    user = prompt.prompt_text.split("## Code Before")[0]
    # What trimming keeps first: the enclosing class header, then imports and the nearest lines.
    assert "\nclass Store:\n" in user
    if budget >= 900:
        assert "import os\n" in user and "    def method_59(self" in user
        assert "    def method_61(self" in user
    assert "\n    # ...\n" in user


def test_a_region_too_big_for_the_budget_is_a_clear_error(small_tokenizer):
    text = big_module(40)
    with pytest.raises(PromptTooLongError, match="smaller region"):
        edit(small_tokenizer, text, 0, len(text), context_tokens=400)


def test_whole_file_region_has_no_file_section(small_tokenizer):
    text = big_module(2)
    prompt = edit(small_tokenizer, text, 0, len(text))
    assert "## File" not in prompt.prompt_text
    assert prompt.omitted_lines == 0 and prompt.draft_text == text + "```"


def test_region_is_widened_to_whole_lines(small_tokenizer):
    text = big_module(3)
    start, end = method_region(text, 1)
    prompt = edit(small_tokenizer, text, start + 4, end - 1)  # from `def`, without the newline
    assert (prompt.answer_context.start, prompt.answer_context.end) == (start, end)
    assert not prompt.answer_context.starts_mid_line


def test_mid_line_region_is_marked_inline(small_tokenizer):
    text = "x = compute(1, 2)\ny = 3\n"
    start = text.index("compute")
    prompt = edit(small_tokenizer, text, start, start + len("compute(1, 2)"))
    assert f"x = {REGION_MARKER}\ny = 3" in prompt.prompt_text
    assert prompt.answer_context.starts_mid_line


def test_fence_outgrows_backticks_in_the_file(small_tokenizer):
    text = 'DOC = """\n```py\nexample()\n```\n"""\n\n\ndef f():\n    return DOC\n'
    start = text.index("def f")
    prompt = edit(small_tokenizer, text, start, len(text))
    assert prompt.stop_strings == ("````",)
    assert prompt.prompt_text.endswith("assistant\n````python\n")


def test_crlf_file_is_shown_with_lf(small_tokenizer):
    text = big_module(3).replace("\n", "\r\n")
    start = text.index("    def method_1(")
    end = text.index("\r\n\r\n", start) + 2
    prompt = edit(small_tokenizer, text, start, end)
    assert "\r" not in prompt.prompt_text and "\r" not in prompt.draft_text
    assert (
        prompt.answer_context.newline == "\r\n"
        and prompt.answer_context.original_text == text[start:end]
    )


def test_language_sets_fence_tag_and_marker_comment(small_tokenizer):
    text = 'fn main() {\n    let x = 1;\n    println!("{x}");\n}\n'
    start = text.index("    let")
    prompt = edit(small_tokenizer, text, start, text.index("}\n"), language="rust")
    assert f"    // {REGION_MARKER}\n" in prompt.prompt_text
    assert prompt.prompt_text.endswith("```rust\n")
    assert "fn main() {\n" in prompt.prompt_text and prompt.answer_context.headers == (
        "fn main() {",
    )


def test_multiline_signature_and_decorator_are_kept_as_headers(small_tokenizer):
    body = "".join(f"    x{i} = {i} * value\n" for i in range(200))
    text = f"@cached\ndef compute(\n    value: int,\n) -> int:\n{body}    return x0\n"
    start = text.index("    return x0")
    prompt = edit(small_tokenizer, text, start, len(text), context_tokens=400)
    assert prompt.answer_context.headers == (
        "@cached",
        "def compute(",
        "    value: int,",
        ") -> int:",
    )
    assert "@cached\ndef compute(\n    value: int,\n) -> int:\n" in prompt.prompt_text


def test_draft_tokens_continue_the_prompt_cleanly(any_tokenizer):
    """Encoding prompt + draft in one go gives the prompt's ids then the draft's: the draft can be
    verified token for token after the prompt."""
    text = big_module(3)
    prompt = edit(any_tokenizer, text, *method_region(text, 1))
    encode = any_tokenizer.encode
    joined = encode(prompt.prompt_text + prompt.draft_text, add_special_tokens=False)
    assert joined == prompt.prompt_ids + encode(prompt.draft_text, add_special_tokens=False)


def test_bad_arguments_are_clear_errors(small_tokenizer):
    with pytest.raises(ValueError, match="outside"):
        edit(small_tokenizer, "abc", 2, 9)
    with pytest.raises(ValueError, match="instruction"):
        edit(small_tokenizer, "abc", 0, 3, instruction="  ")


# fill in the middle


def fim_ids(tokenizer) -> list[int]:
    return [tokenizer.convert_tokens_to_ids(token) for token in FIM_TOKENS]


def test_fim_order_and_token_ids_from_the_tokenizer(any_tokenizer):
    prefix_id, suffix_id, middle_id = fim_ids(any_tokenizer)
    assert (prefix_id, suffix_id, middle_id) == (124, 125, 126)  # the real layout
    text = "def add(a, b):\n    return \n\nprint(add(1, 2))\n"
    cursor = text.index("return ") + len("return ")
    encode = lambda s: any_tokenizer.encode(s, add_special_tokens=False)  # noqa: E731
    spm = build_fim_prompt(any_tokenizer, text=text, cursor=cursor)
    assert spm.prompt_ids == [
        suffix_id,
        *encode(text[cursor:]),
        prefix_id,
        *encode(text[:cursor]),
    ] + [middle_id]
    assert (
        spm.prompt_text
        == f"<[fim-suffix]>{text[cursor:]}<[fim-prefix]>{text[:cursor]}<[fim-middle]>"
    )
    psm = build_fim_prompt(any_tokenizer, text=text, cursor=cursor, order="psm")
    assert psm.prompt_ids == [
        prefix_id,
        *encode(text[:cursor]),
        suffix_id,
        *encode(text[cursor:]),
    ] + [middle_id]
    assert (spm.prefix_start, spm.suffix_end) == (0, len(text))


@pytest.mark.parametrize("budget", [300, 700, 2000])
def test_fim_trims_at_line_boundaries_within_budget(any_tokenizer, budget):
    text = big_module(80)
    cursor = text.index("total -= 40") + len("total -= ")
    fim = build_fim_prompt(
        any_tokenizer, text=text, cursor=cursor, context_tokens=budget, max_new_tokens=64
    )
    assert len(fim.prompt_ids) + fim.max_new_tokens <= budget
    assert fim.prefix_start > 0 and text[fim.prefix_start - 1] == "\n"
    assert fim.suffix_end < len(text) and text[fim.suffix_end - 1] == "\n"
    assert (
        fim.prefix == text[fim.prefix_start : cursor]
        and fim.suffix == text[cursor : fim.suffix_end]
    )
    assert fim.prefix.endswith("        if total > LIMIT:\n            total -= ")
    # The prefix gets the larger share of the room.
    assert len(fim.prefix) > len(fim.suffix)


def test_special_token_text_in_the_file_stays_plain_text(small_tokenizer):
    text = f'BOS, EOS = "{BOS}", "{EOS}"\n\n\ndef f():\n    return EOS\n'
    prompt = edit(small_tokenizer, text, text.index("def f"), len(text))
    bos, eos = small_tokenizer.convert_tokens_to_ids([BOS, EOS])
    assert prompt.prompt_ids.count(bos) == 2 and prompt.prompt_ids.count(eos) == 1
    assert small_tokenizer.decode(prompt.prompt_ids) == prompt.prompt_text
    assert EOS in prompt.prompt_text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.sampled_from(["\n", "\r\n", "\r"]), st.integers(150, 1200), st.data())
def test_fim_invariants_anywhere(small_tokenizer, newline, budget, data):
    text = big_module(30).replace("\n", newline) + "x = '😀中文'"
    cursor = data.draw(st.integers(0, len(text)))
    fim = build_fim_prompt(
        small_tokenizer, text=text, cursor=cursor, context_tokens=budget, max_new_tokens=64
    )
    assert len(fim.prompt_ids) + fim.max_new_tokens <= budget
    assert fim.prefix_start <= cursor <= fim.suffix_end
    expected_prefix = text[fim.prefix_start : cursor].replace("\r\n", "\n").replace("\r", "\n")
    assert fim.prefix == expected_prefix
    assert fim.suffix == text[cursor : fim.suffix_end].replace("\r\n", "\n").replace("\r", "\n")


def test_fim_keeps_special_token_text_in_the_file_as_plain_text(small_tokenizer):
    text = 'MARK = "<[fim-middle]>"\nx = '
    fim = build_fim_prompt(small_tokenizer, text=text, cursor=len(text))
    assert fim.prompt_ids.count(fim_ids(small_tokenizer)[2]) == 1


def test_fim_at_the_edges_and_with_crlf(small_tokenizer):
    text = "a = 1\r\nb = 2\r\n"
    assert build_fim_prompt(small_tokenizer, text=text, cursor=0).prefix == ""
    end = build_fim_prompt(small_tokenizer, text=text, cursor=len(text))
    assert end.suffix == "" and end.prefix == "a = 1\nb = 2\n" and end.newline == "\r\n"


def test_fim_bad_arguments(small_tokenizer):
    with pytest.raises(ValueError, match="order"):
        build_fim_prompt(small_tokenizer, text="x", cursor=0, order="pms")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="outside"):
        build_fim_prompt(small_tokenizer, text="x", cursor=5)
    with pytest.raises(PromptTooLongError):
        build_fim_prompt(
            small_tokenizer, text="x", cursor=0, context_tokens=100, max_new_tokens=200
        )


def test_fim_without_fim_tokens_is_a_clear_error():
    class NoFim:
        def encode(self, text, add_special_tokens=False):
            return [ord(c) for c in text]

        def convert_tokens_to_ids(self, token):
            return 3

        def decode(self, ids):
            return "<unk>"

    with pytest.raises(ValueError, match="fim-prefix"):
        build_fim_prompt(NoFim(), text="x", cursor=0)  # type: ignore[arg-type]
