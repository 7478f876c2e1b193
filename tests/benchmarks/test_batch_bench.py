"""The batch benchmark runs end to end: batched forwards are shared, the tokens are identical.

Forward counts and token identity are deterministic at float32 on the demo model; timings are
printed by the benchmark, never asserted here.
"""

from __future__ import annotations

from diffcoder.cli.main import main


def test_quick_batch_benchmark_writes_its_section_and_plot(tmp_path, capsys):
    argv = ["bench", "batch", "--quick", "--concurrency", "1,3", "--out", str(tmp_path)]
    assert main(argv) == 0
    page = (tmp_path / "batch-benchmark.md").read_text("utf-8")
    assert (tmp_path / "batch-benchmark.png").stat().st_size > 10_000
    assert "diffcoder bench batch --concurrency 1,3 --max-new-tokens 64 --quick" in page
    rows = [line.split("|")[1:-1] for line in page.splitlines() if line.startswith("| ")]
    by_count = {int(r[0]): [cell.strip() for cell in r] for r in rows if r[0].strip().isdigit()}
    assert set(by_count) == {1, 3}
    one, three = by_count[1], by_count[3]
    assert one[1] == one[2]  # a batch of one runs the same forwards
    assert int(three[2]) < int(three[1])  # three requests share forwards
    assert float(three[4]) <= float(three[3])  # never below the least possible share
    assert three[14] == "3/3" and three[15] == "100.0 %"
    assert "# Batch benchmark" in (tmp_path / "benchmarks.md").read_text("utf-8")
    assert "batch-benchmark.md" in capsys.readouterr().out
