"""`diffcoder bench edits` on a few real pairs: the JSON contract, losslessness, and an oracle
model that really is one (it writes the gold answer and is a function of what it sees)."""

from __future__ import annotations

import json

import pytest
import torch

from diffcoder.benchmarking.edit_settings import EditsBenchSettings
from diffcoder.benchmarking.edits import load_bench_tokenizer, measure_pair, prepare_pair
from diffcoder.benchmarking.oracle_lm import OracleDecoder, OracleLM, needed_neighbours
from diffcoder.cli.main import main
from diffcoder.evaluation.datasets import EditProblem
from diffcoder.testing.shared_data import default_editeval_path

BEFORE = """def total(values):
    result = 0
    for value in values:
        result += value
    return result


def mean(values):
    return total(values) / len(values)
"""
AFTER = BEFORE.replace(
    "    for value in values:\n        result += value\n", "    result = sum(values)\n"
)
PROBLEM = EditProblem("local/0", BEFORE, AFTER, "assert True", "Use sum.", "unknown")


@pytest.fixture(scope="module")
def bench_tokenizer():
    return load_bench_tokenizer(None)  # the real tokenizer when ../shared has it, else the demo's


def test_json_contract_on_the_first_pairs(capsys):
    if not default_editeval_path().is_file():
        pytest.skip(f"EditEval is absent at {default_editeval_path()}")
    args = ["bench", "edits", "--format", "editeval", "--profile", "realistic", "--limit", "3"]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pairs"] == 3 and report["identical"] == 3 and report["as_written"] == 3
    assert (
        0 < report["median_forwards_per_token_draft"] <= report["median_forwards_per_token_plain"]
    )
    assert report["median_forwards_per_token_plain"] < 1.0
    assert set(report["profiles"]) == {"realistic"}
    assert len(report["per_pair"]["realistic"]) == 3


@pytest.mark.parametrize("profile", ["certain", "realistic", "noisy"])
def test_every_profile_is_lossless_and_writes_the_gold_answer(bench_tokenizer, profile):
    tokenizer, special, rows, _ = bench_tokenizer
    pair = prepare_pair(tokenizer, special.eos, PROBLEM, "file")
    assert not isinstance(pair, str) and pair.verdict == "gold"
    result = measure_pair(OracleDecoder(tokenizer, special, rows), pair, profile, seed=1)
    assert result.identical and result.as_written
    assert result.hunks == 1 and 0 < result.new_tokens < result.tokens
    assert result.draft_nfe < result.plain_nfe


def test_dense_ids_change_no_decision(bench_tokenizer):
    tokenizer, special, rows, _ = bench_tokenizer
    pair = prepare_pair(tokenizer, special.eos, PROBLEM, "file")
    dense = measure_pair(OracleDecoder(tokenizer, special, rows), pair, "noisy", seed=3)
    full = measure_pair(OracleDecoder(tokenizer, special, rows, dense=False), pair, "noisy", seed=3)
    assert dense == full


def test_realistic_new_tokens_wait_for_a_decided_neighbour():
    lm = OracleLM(vocab_size=40, mask_id=5, eos=2)
    answer = [30, 31, 32, 33]
    lm.expect(8, answer, needed_neighbours("realistic", [True, False, False, True], 0))
    cache = lm.new_cache(16)
    positions = torch.arange(8, 12)
    fresh = lm.forward(cache, torch.full((4,), 5), positions).softmax(-1)
    assert fresh.argmax(-1).tolist() == answer
    assert [round(float(p), 2) for p in fresh.max(-1).values] == [0.99, 0.59, 0.58, 0.99]
    one_decided = lm.forward(cache, torch.tensor([30, 5, 5, 5]), positions).softmax(-1)
    assert bool((one_decided.max(-1).values > 0.95).all())


def test_bad_input_is_one_message(tmp_path, capsys):
    assert main(["bench", "edits", "--dataset", str(tmp_path / "none.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(ValueError, match="--scope"):
        EditsBenchSettings(scope="everything")


def test_new_tokens_need_the_right_code_before_them():
    lm = OracleLM(vocab_size=40, mask_id=5, eos=2)
    answer = [30, 31, 32, 33, 34, 35, 36, 37]
    copied = [True, True, True, True, False, True, False, False]
    lm.expect(8, answer, [0] * 8, copied)
    cache = lm.new_cache(32)
    # the first answer block fed clean, then the second one masked: it sees the right code
    right = torch.tensor(answer[:4] + [5, 5, 5, 5])
    positions = torch.arange(8, 16)
    assert lm.forward(cache, right, positions).argmax(-1)[4:].tolist() == answer[4:]
    # the same with other code before it: the copied token still comes, new ones do not
    wrong = torch.tensor([30, 31, 9, 33, 5, 5, 5, 5])
    chosen = lm.forward(cache, wrong, positions).argmax(-1)[4:].tolist()
    assert chosen[1] == answer[5]
    assert all(c != a for c, a in zip(chosen[::2], answer[4::2], strict=True))
    assert chosen[3] != answer[7]
    # without copied flags the oracle ignores the left context (the tests' older oracle)
    lm.expect(8, answer, [0] * 8)
    assert lm.forward(cache, wrong, positions).argmax(-1)[4:].tolist() == answer[4:]
