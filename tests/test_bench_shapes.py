"""benchmarks/bench_shapes.py at tiny shapes on the CPU: one row per method, with a finite time per edit."""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_shapes.py"


def test_tiny_table_has_a_row_per_method(capsys, tmp_path):
    spec = importlib.util.spec_from_file_location("bench_shapes", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.main(["--tiny", "--device", "cpu", "--n", "2", "--archs", "llama-2-7b",
                       "--methods", "memit,d4s", "--json", str(tmp_path / "rows.json")])
    table = [line.split("|")[1:-1] for line in capsys.readouterr().out.splitlines()
             if line.startswith("| llama-2-7b |")]
    by_method = {cells[1].strip(): cells for cells in table if cells[1].strip() in ("memit", "d4s")}
    assert set(by_method) == {"memit", "d4s"}
    for cells in by_method.values():
        assert math.isfinite(float(cells[4])) and float(cells[4]) > 0  # median seconds per edit
    assert [r["method"] for r in rows] == ["memit", "d4s"] and all(r["n"] == 2 for r in rows)
    assert (tmp_path / "rows.json").exists()
