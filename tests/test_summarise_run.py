"""benchmarks/summarise_run.py: per-window rows of a chain (where a bottleneck sets in) and --since filtering."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module():
    spec = importlib.util.spec_from_file_location("summarise_run", ROOT / "benchmarks" / "summarise_run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _norms(path: Path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    head = "edit,param,layer,mean_abs_w,z_prob_last,seconds,immediate_efficacy\n"
    path.write_text(head + "".join(f"{e},w{layer},{layer},{w},{p},{s},{i}\n" for e, layer, w, p, s, i in rows))


def test_windows_average_each_block_of_edits(tmp_path):
    # two layers per edit; mean|W| is averaged over the layers, growth is against edit 1
    _norms(tmp_path / "results/norms/m/zsre/rome.csv", [
        (1, 4, 1.0, 0.9, 10, 1.0), (1, 5, 1.0, 0.9, 10, 1.0),
        (2, 4, 1.1, 0.7, 12, 1.0), (2, 5, 1.1, 0.7, 12, 1.0),
        (3, 4, 1.2, 0.5, 14, 0.0), (3, 5, 1.4, 0.5, 14, 0.0),
        (4, 4, 1.5, 0.1, 16, 0.0), (4, 5, 1.5, 0.1, 16, 0.0)])
    lines = _module().window_lines(tmp_path, "m", "zsre", 2)
    assert lines == ["| rome | 1-2 | 0.800 | 1.000 | 1.10000 (+10.00%) | 11.0 |",
                     "| rome | 3-4 | 0.300 | 0.000 | 1.50000 (+50.00%) | 15.0 |"]


def test_since_keeps_only_later_jobs(tmp_path):
    bench = tmp_path / "benchmarks/rules"
    for rule, mtime in (("edit", 100.0), ("edit_metrics", 300.0)):
        path = bench / rule / "x.tsv"
        path.parent.mkdir(parents=True)
        path.write_text("s\tcpu_time\n5.0\t4.0\n")
        os.utime(path, (mtime, mtime))
    module = _module()
    assert set(module.job_seconds(tmp_path)) == {"edit", "edit_metrics"}
    assert module.job_seconds(tmp_path, since=200.0) == {"edit_metrics": (1, 5.0, 4.0)}


def test_jobs_are_grouped_by_dataset(tmp_path):
    bench = tmp_path / "benchmarks/rules"
    files = {"edit/m/mqd_tf/rome/step_10.tsv": 30.0, "edit/m/zsre/rome/step_10.tsv": 20.0,
             "edit_metrics/m/mqd_tf/base.tsv": 3.0, "norms/m/zsre/rome.tsv": 1.0, "target_perplexity/m/mqd_tf.tsv": 2.0,
             "prepare_data/zsre.tsv": 0.5, "downstream/m/base.tsv": 7.0, "layer_stats/m/key.tsv": 9.0,
             "model/m.tsv": 4.0, "report/m.tsv": 1.5}
    for name, seconds in files.items():
        path = bench / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"s\tcpu_time\n{seconds}\t{seconds / 2}\n")
    got = _module().job_seconds(tmp_path, by_dataset=True)
    assert got == {"mqd_tf": (3, 35.0, 17.5), "zsre": (3, 21.5, 10.75), "-": (4, 21.5, 10.75)}
