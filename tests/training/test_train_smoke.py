"""`diffcoder train` end to end at toy size: trains a few steps, then the result loads and decodes
like any checkpoint. (CI never trains the shipped model; `make train-tiny` does.)"""

from __future__ import annotations

import json

from diffcoder.cli.main import main
from diffcoder.model.backend import encode_prompt
from diffcoder.model.engine import load_engine
from diffcoder.model.types import DecodeConfig, LoadOptions


def test_train_writes_a_loadable_checkpoint(source_tree, tmp_path, capsys):
    out, twin = tmp_path / "model", tmp_path / "untrained"
    argv = ["train", "--out", str(out), "--untrained-out", str(twin), "--corpus", str(source_tree)]
    argv += ["--steps", "4", "--batch", "2", "--length", "64", "--hidden", "32", "--layers", "1"]
    argv += ["--heads", "2", "--kv-heads", "1", "--vocab-size", "600", "--heldout-rows", "2"]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["steps_done"] == 4
    summary = json.loads((out / "training.json").read_text())
    assert summary["heldout"]["untrained"]["accuracy"] >= 0.0 and summary["parameters"] > 0
    assert summary["settings"]["steps"] == 4 and "out" not in summary["settings"]
    for path in (out, twin):
        engine = load_engine(path, LoadOptions(device="cpu", quant="none"))
        special = engine.special
        assert (special.bos, special.pad, special.eos, special.mask) == (0, 1, 2, 5)
        result = engine.generate(
            encode_prompt(engine.tokenizer, "def f(x):\n"), DecodeConfig(max_new_tokens=8)
        )
        assert len(result.token_ids) <= 8


def test_a_second_stage_continues_from_a_checkpoint(source_tree, tmp_path, capsys):
    first, second = tmp_path / "first", tmp_path / "second"
    sizes = ["--length", "64", "--hidden", "32", "--layers", "1", "--heads", "2", "--kv-heads", "1"]
    common = ["--corpus", str(source_tree), "--batch", "2", "--heldout-rows", "2", *sizes]
    assert main(["train", "--out", str(first), "--steps", "3", "--vocab-size", "600", *common]) == 0
    argv = ["train", "--out", str(second), "--init-from", str(first), "--steps", "2"]
    assert main([*argv, *common]) == 0
    capsys.readouterr()
    summary = json.loads((second / "training.json").read_text())
    before = json.loads((first / "training.json").read_text())
    assert summary["previous_stage"]["steps_done"] == 3
    # the second stage starts where the first ended: the same held-out rows and the same weights
    # (saved in bf16, as checkpoints ship, hence the tolerance)
    start, end = summary["heldout"]["untrained"], before["heldout"]["trained"]
    assert abs(start["loss"] - end["loss"]) < 0.02
    assert (second / "tokenizer.json").read_bytes() == (first / "tokenizer.json").read_bytes()


def test_eval_masked_compares_a_model_with_its_untrained_twin(source_tree, tmp_path, capsys):
    out, twin = tmp_path / "model", tmp_path / "twin"
    argv = ["train", "--out", str(out), "--untrained-out", str(twin), "--corpus", str(source_tree)]
    argv += ["--steps", "30", "--batch", "4", "--length", "64", "--hidden", "32", "--layers", "1"]
    argv += ["--heads", "2", "--kv-heads", "1", "--vocab-size", "600", "--heldout-rows", "4"]
    argv += ["--learning-rate", "0.01", "--lr-warmup-steps", "2", "--mask-warmup-steps", "0"]
    assert main(argv) == 0
    capsys.readouterr()
    evaluate = ["eval", "masked", "--model", str(out), "--model", str(twin)]
    evaluate += ["--corpus", str(source_tree), "--rows", "4", "--length", "64", "--json"]
    assert main(evaluate) == 0
    scores = json.loads(capsys.readouterr().out)
    trained, untrained = scores[str(out)], scores[str(twin)]
    summary = json.loads((out / "training.json").read_text())["heldout"]
    # the command measures what training measured (weights saved in bf16: a small tolerance)
    assert abs(trained["loss"] - summary["trained"]["loss"]) < 0.05
    assert trained["loss"] < untrained["loss"]  # 30 steps on a repetitive corpus do teach it
