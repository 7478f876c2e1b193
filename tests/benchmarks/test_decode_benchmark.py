"""The decode benchmark runs end to end and its forward counts are what the design promises.

Counts are deterministic; timings are printed by the benchmark, never asserted here.
"""

from __future__ import annotations

from diffcoder.cli.main import main


def test_quick_decode_benchmark_writes_table_and_plot(tmp_path, capsys):
    assert (
        main(
            [
                "bench",
                "decode",
                "--quick",
                "--max-new-tokens",
                "16",
                "--repeats",
                "1",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    table = (tmp_path / "decode-benchmark.md").read_text("utf-8")
    assert (tmp_path / "decode-benchmark.png").stat().st_size > 10_000
    rows = [line.split("|")[1:-1] for line in table.splitlines() if line.startswith("| tiny")]
    fast = {(r[0].strip(), r[1].strip()): r for r in rows if r[2].strip() == "fast"}
    assert len(fast) == 4
    for (checkpoint, rule), row in fast.items():
        assert row[9].strip() == "yes"  # same tokens as parity
        nfe_ratio = float(row[7])
        if rule == "one token/step":
            assert nfe_ratio == 0.80
        if rule == "threshold 0.95" and "sharpened" in checkpoint:
            assert nfe_ratio == 0.50  # whole blocks commit: 1 forward instead of 1 + commit
    assert "decode-benchmark.md" in capsys.readouterr().out


def test_quick_draft_benchmark_keeps_outputs_and_saves_forwards(tmp_path, capsys):
    argv = ["bench", "draft", "--quick", "--max-new-tokens", "64", "--repeats", "1"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    table = (tmp_path / "draft-benchmark.md").read_text("utf-8")
    rows = {
        cells[0].strip(): cells
        for cells in (line.split("|")[1:-1] for line in table.splitlines())
        if len(cells) == 6 and cells[0].strip().startswith(("fast", "parity"))
    }
    assert len(rows) == 9
    assert all(cells[5].strip() == "yes" for cells in rows.values())  # same output everywhere
    assert float(rows["fast + draft, 0% wrong"][2]) <= 1 / 3  # NFE relative to plain fast
    assert float(rows["fast + draft, 100% wrong"][2]) == 1.0  # a useless draft costs no forward
    assert float(rows["parity"][2]) > 1.0
    capsys.readouterr()


def test_bench_all_collects_every_benchmark_in_one_page(tmp_path, capsys):
    assert main(["bench", "all", "--quick", "--out", str(tmp_path)]) == 0
    page = (tmp_path / "benchmarks.md").read_text("utf-8")
    for section in ("Decode benchmark", "Draft-accelerated decoding", "Language server latency"):
        assert f"## {section}" in page
    assert page.count("](") >= 3  # each section keeps its plot
    for name in ("decode-benchmark.png", "draft-benchmark.png", "lsp-latency.png"):
        assert (tmp_path / name).is_file()
    capsys.readouterr()
