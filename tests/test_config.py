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
])
def test_bad_config_is_an_error_that_names_it(tmp_path, changes, needle):
    res = dry_run(tmp_path, **changes)
    assert res.returncode != 0
    assert needle in res.stderr + res.stdout
