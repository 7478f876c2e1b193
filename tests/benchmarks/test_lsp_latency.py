"""`diffcoder bench lsp` runs against the real server process and writes its table and plot.

Timings are printed, never asserted: only the table's shape and the split's arithmetic.
"""

from __future__ import annotations

from diffcoder.benchmarking.lsp_latency import Samples, markdown_table, percentile, run_lsp_latency
from diffcoder.benchmarking.settings import LspBenchSettings


def test_quick_lsp_latency_writes_table_and_plot(tmp_path, capsys):
    assert run_lsp_latency(LspBenchSettings(out=tmp_path, repeats=2, max_new_tokens=8)) == 0
    report = (tmp_path / "lsp-latency.md").read_text("utf-8")
    assert (tmp_path / "lsp-latency.png").stat().st_size > 10_000
    rows = {
        line.split("|")[1].strip(): line.split("|")[2:-1]
        for line in report.splitlines()
        if line.startswith("| ") and "---" not in line and "request" not in line
    }
    assert set(rows) == {
        "diffcoder.edit (preview)",
        "inlineCompletion",
        "diffcoder/status (no model)",
    }
    assert [cells[0].strip() for cells in rows.values()] == ["2", "2", "2"]
    assert all(" / " in cell for cells in rows.values() for cell in cells[1:4])
    assert all(cells[-1].strip().endswith("%") for cells in rows.values())
    assert "| diffcoder.edit (preview) |" in capsys.readouterr().out
    command = "diffcoder bench lsp --repeats 2 --max-new-tokens 8 --threads 1 --out docs"
    assert f"Reproduce: `{command}`" in report


def test_overhead_is_end_to_end_minus_model():
    samples = Samples("x")
    samples.add(0.10, 0.08, 0.01)
    samples.add(0.20, 0.15, 0.02)
    assert [round(v, 3) for v in samples.overhead] == [0.02, 0.05]
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0 and percentile([1.0, 2.0], 90) == 2.0
    assert "| x | 2 | 100.0 / 200.0 | 80.0 / 150.0 | 20.0 / 50.0 | 15.0 | 23% |" in markdown_table(
        [samples]
    )
