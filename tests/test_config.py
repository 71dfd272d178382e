"""Configuration errors name the key, model, method or dataset at fault (checked through `snakemake -n`)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def dry_run(tmp_path, **changes):
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    for key, value in changes.items():
        cfg[key] = value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return subprocess.run(SNAKEMAKE + ["-n", "--quiet", "--configfile", str(path), "-d", str(tmp_path),
                                       "-s", str(ROOT / "Snakefile")], capture_output=True, text=True, cwd=ROOT)


def test_default_config_builds_the_dag(tmp_path):
    res = dry_run(tmp_path)
    assert res.returncode == 0, res.stderr + res.stdout


@pytest.mark.parametrize("changes,needle", [
    ({"methods": ["rome", "romee"]}, "unknown method 'romee'"),
    ({"models": {"smollm3": {"dtype": "float32"}}}, "unknown model 'smollm3'"),
    ({"datasets": {"zsrE": {"n_requests": 3}}}, "unknown dataset 'zsrE'"),
    ({"checkpointz": [1, 2]}, "checkpointz"),
    ({"checkpoints": [10, 20, 40]}, "n_requests"),
    ({"checkpoints": [20, 10]}, "increasing"),
    ({"datasets": {"zsre": {"n_requests": 8, "checkpoints": [4, 9]}}}, "datasets.zsre.checkpoints"),
    ({"datasets": {"zsre": {"n_requests": 8, "checkpoints": [4, 8], "methods": ["pmett"]}}},
     "datasets.zsre.methods: 'pmett'"),
    ({"datasets": {"zsre_long": {"dataset": "zsrE", "n_requests": 8, "checkpoints": [8]}}},
     "datasets.zsre_long.dataset: unknown dataset 'zsrE'"),
    ({"datasets": {"zsre": {"n_requests": 8, "checkpoints": [8], "models": ["gpt-j-6b"]}}},
     "datasets.zsre.models: 'gpt-j-6b'"),
])
def test_bad_config_is_an_error_that_names_it(tmp_path, changes, needle):
    res = dry_run(tmp_path, **changes)
    assert res.returncode != 0
    assert needle in res.stderr + res.stdout


def test_a_dataset_can_override_checkpoints_and_methods(tmp_path):
    methods = yaml.safe_load((ROOT / "config.yaml").read_text())["methods"]
    datasets = {"zsre": {"n_requests": 6, "checkpoints": [3, 6]},
                "counterfact": {"n_requests": 4, "checkpoints": [4], "methods": [methods[0]]}}
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["datasets"] = datasets
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = subprocess.run(SNAKEMAKE + ["-n", "--configfile", str(path), "-d", str(tmp_path), "-s",
                                      str(ROOT / "Snakefile")], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr + res.stdout
    counts = dict(line.split() for line in res.stdout.split("Job stats:")[1].splitlines()[3:]
                  if len(line.split()) == 2 and line.split()[1].isdigit())
    assert int(counts["edit"]) == 2 * len(methods) + 1
    assert int(counts["norms"]) == len(methods) + 1
