"""`diffcoder generate` and `make-tiny-checkpoint`: the command-line contract."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from diffcoder.cli.main import main
from diffcoder.testing.tiny_checkpoint import make_tiny_checkpoint


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("cli") / "tiny", seed=3)


def run_json(capsys, *argv) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_generate_json_contract(ckpt, capsys):
    out = run_json(
        capsys,
        "generate",
        "--model",
        str(ckpt),
        "--prompt",
        "def add(a, b):",
        "--json",
        "--max-new-tokens",
        "10",
        "--device",
        "cpu",
    )
    assert {"token_ids", "text", "finish_reason", "nfe"} <= out.keys()
    assert out["finish_reason"] in {"eos", "stop", "length"}
    assert 0 < len(out["token_ids"]) <= 10 or out["finish_reason"] == "eos"
    assert out["nfe"] >= 1 and out["device"] == "cpu" and out["quant"] == "none"


def test_parity_with_fixed_steps_counts_upstream_forwards(ckpt, capsys):
    out = run_json(
        capsys,
        "generate",
        "--model",
        str(ckpt),
        "--prompt",
        "abcd",
        "--json",
        "--mode",
        "parity",
        "--threshold",
        "none",
        "--max-new-tokens",
        "8",
        "--steps-per-block",
        "4",
        "--dtype",
        "float32",
    )
    # 2 blocks x (4 steps + 1 commit); an EOS in the first block ends after 5
    assert out["nfe"] == (10 if out["finish_reason"] == "length" else 5)


def test_chat_prompt_uses_the_template(ckpt, capsys, tmp_path):
    prompt_file = tmp_path / "p.txt"
    prompt_file.write_text("Write a function.", "utf-8")
    plain = run_json(
        capsys,
        "generate",
        "--model",
        str(ckpt),
        "--prompt-file",
        str(prompt_file),
        "--json",
        "--max-new-tokens",
        "4",
    )
    chat = run_json(
        capsys,
        "generate",
        "--model",
        str(ckpt),
        "--prompt-file",
        str(prompt_file),
        "--json",
        "--max-new-tokens",
        "4",
        "--chat",
    )
    # BOS user \n content EOS, then BOS assistant \n: more prompt tokens than the bare text
    assert chat["prompt_tokens"] > plain["prompt_tokens"]


def test_stop_strings_and_stats(ckpt, capsys):
    full = run_json(
        capsys,
        "generate",
        "--model",
        str(ckpt),
        "--prompt",
        "x",
        "--json",
        "--max-new-tokens",
        "24",
        "--threshold",
        "none",
    )
    assert len(full["text"]) >= 6  # the seeded checkpoint decodes its whole budget here
    stop = full["text"][3:6]
    cut = run_json(
        capsys,
        "generate",
        "--model",
        str(ckpt),
        "--prompt",
        "x",
        "--json",
        "--max-new-tokens",
        "24",
        "--threshold",
        "none",
        "--stop",
        stop,
    )
    assert cut["finish_reason"] == "stop"
    assert cut["text"] == full["text"][: full["text"].index(stop)]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "does/not/exist", "--prompt", "x"], "does/not/exist"),
        (["--prompt", "x", "--mode", "parity", "--max-new-tokens", "6"], "multiple"),
    ],
)
def test_errors_are_clear(ckpt, capsys, argv, message):
    if "--model" not in argv:
        argv = ["--model", str(ckpt), *argv]
    assert main(["generate", *argv]) == 2
    err = capsys.readouterr().err
    assert "error" in err and message in err


def test_bad_threshold_is_rejected(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--model", "m", "--prompt", "x", "--threshold", "2"])
    assert "threshold" in capsys.readouterr().err


def test_console_script_end_to_end(tmp_path):
    out = tmp_path / "ckpt"
    made = subprocess.run(
        [sys.executable, "-m", "diffcoder", "make-tiny-checkpoint", str(out), "--seed", "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert (out / "config.json").exists() and str(out) in made.stdout
    gen = subprocess.run(
        [
            sys.executable,
            "-m",
            "diffcoder",
            "generate",
            "--model",
            str(out),
            "--prompt",
            "def f():",
            "--json",
            "--max-new-tokens",
            "8",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(gen.stdout)
    assert result["nfe"] >= 1
    assert "Loading" in gen.stderr


@pytest.fixture(scope="module")
def sharp_ckpt(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("cli") / "sharp", head_scale=5000.0)


def test_draft_ids_and_draft_file_keep_the_output(sharp_ckpt, capsys, tmp_path):
    common = ["generate", "--model", str(sharp_ckpt), "--prompt", "def f(x):", "--json"]
    common += ["--max-new-tokens", "48", "--threshold", "0.9"]
    plain = run_json(capsys, *common)
    ids = ",".join(map(str, plain["token_ids"]))
    by_ids = run_json(capsys, *common, "--draft-ids", ids)
    assert by_ids["token_ids"] == plain["token_ids"]
    assert by_ids["nfe"] < plain["nfe"] and by_ids["draft_accepted_tokens"] > 0
    draft_file = tmp_path / "draft.txt"
    draft_file.write_text(plain["text"], "utf-8")
    by_file = run_json(capsys, *common, "--draft-file", str(draft_file))
    assert by_file["token_ids"] == plain["token_ids"]
    assert by_file["nfe"] <= plain["nfe"]


def test_draft_needs_fast_mode(ckpt, capsys):
    argv = ["generate", "--model", str(ckpt), "--prompt", "x", "--mode", "parity"]
    assert main([*argv, "--draft-ids", "300,301"]) == 2
    assert "fast mode" in capsys.readouterr().err


TIMINGS = {"prefill_seconds", "decode_seconds", "model_seconds"}


def jsonl_lines(capsys, *argv) -> list[dict]:
    assert main(list(argv)) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_prompts_jsonl_batched_equals_one_after_another(sharp_ckpt, capsys, tmp_path):
    single = run_json(
        capsys,
        "generate",
        "--model",
        str(sharp_ckpt),
        "--prompt",
        "def f(x):",
        "--json",
        "--max-new-tokens",
        "24",
    )
    lines = [
        {"prompt": "def f(x):"},
        {"prompt": "class Stack:", "max_new_tokens": 9, "stop": "\n"},
        {"prompt_ids": [300, 301, 302, 303, 304, 305, 306], "max_new_tokens": 13},
        {"prompt": "import os", "draft_ids": single["token_ids"][:20]},
        {"prompt": "x = [", "max_new_tokens": 30, "stop": ["]", ")"]},
    ] * 2
    path = tmp_path / "prompts.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", "utf-8")
    common = ["generate", "--model", str(sharp_ckpt), "--prompts-jsonl", str(path), "--json"]
    common += ["--max-new-tokens", "24", "--device", "cpu"]
    alone = jsonl_lines(capsys, *common, "--batch-size", "1")
    batched = jsonl_lines(capsys, *common, "--batch-size", "4")
    assert len(alone) == len(batched) == len(lines) + 1
    for a, b in zip(alone[:-1], batched[:-1], strict=True):
        assert set(a) == set(b) == set(single)  # the keys of a single `generate --json`
        assert {k: v for k, v in a.items() if k not in TIMINGS} == {
            k: v for k, v in b.items() if k not in TIMINGS
        }
    assert alone[0]["token_ids"] == single["token_ids"]  # input order, the flags' defaults
    assert alone[1]["generated_tokens"] <= 9 and alone[2]["prompt_tokens"] == 7
    one, many = alone[-1]["summary"], batched[-1]["summary"]
    assert one["requests"] == many["requests"] == len(lines)
    assert one["tokens"] == many["tokens"] == sum(a["generated_tokens"] for a in alone[:-1])
    assert one["forwards"] == sum(a["nfe"] for a in alone[:-1])
    assert many["forwards"] < one["forwards"] / 2  # shared forwards
    assert many["seconds"] > 0


@pytest.mark.parametrize(
    ("text", "extra", "message"),
    [
        ('{"prompt": "x"}\nnot json\n', [], "line 2 is not JSON"),
        ('{"prompt": "x", "prompt_ids": [1]}\n', [], "exactly one of"),
        ('{"prompt": "x", "max_new_tokens": 0}\n', [], "positive integer"),
        ('{"prompt": "x", "temperature": 1}\n', [], "unknown key 'temperature'"),
        ('{"prompt_ids": [99999999]}\n', [], "not in this model's tokenizer"),
        ("\n", [], "holds no requests"),
        ('{"prompt": "x"}\n', ["--draft-ids", "1"], "draft_ids"),
    ],
)
def test_prompts_jsonl_errors_are_clear(ckpt, capsys, tmp_path, text, extra, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(text, "utf-8")
    argv = ["generate", "--model", str(ckpt), "--prompts-jsonl", str(path), "--json", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error" in err and message in err


def test_batch_size_needs_prompts_jsonl_and_jsonl_needs_json(ckpt, capsys, tmp_path):
    argv = ["generate", "--model", str(ckpt), "--prompt", "x", "--batch-size", "2"]
    assert main(argv) == 2
    assert "--prompts-jsonl" in capsys.readouterr().err
    path = tmp_path / "one.jsonl"
    path.write_text('{"prompt": "x"}\n', "utf-8")
    assert main(["generate", "--model", str(ckpt), "--prompts-jsonl", str(path)]) == 2
    assert "--json" in capsys.readouterr().err
