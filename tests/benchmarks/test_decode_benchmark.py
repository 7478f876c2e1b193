"""The decode benchmark runs end to end and its forward counts are what the design promises.

Counts are deterministic; timings are printed by the benchmark, never asserted here.
"""

from __future__ import annotations

from diffcoder.cli import main


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
