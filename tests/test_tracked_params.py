"""Every value that changes a result is tracked by Snakemake: changing it in the config plans the affected jobs
again (before, `hparams_set`, `seed` and `device` reached the shell commands as untracked globals)."""
from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from tiny_workflow import DATASETS, METHODS, STEPS, tiny_config
from touched_run import ROOT, planned_jobs, touch_run

N_EDIT_JOBS = len(DATASETS) * len(METHODS) * len(STEPS)


@pytest.fixture(scope="module")
def touched(tmp_path_factory, data_mirror):
    work = tmp_path_factory.mktemp("touched")
    config = tiny_config(work, work / "model", data_mirror)
    cfg = yaml.safe_load(config.read_text())
    # a second hyperparameter set in the (tiny) hparams files, written before the run is recorded
    for hp_file in (work / "hparams").glob("*.yaml"):
        blocks = yaml.safe_load(hp_file.read_text())
        for sets in blocks.values():
            sets["reference"] = dict(sets["tuned"])
        hp_file.write_text(yaml.safe_dump(blocks))
    touch_run(work, config)
    return work, cfg


def changed(work, cfg, name, **changes):
    path = work / f"config_{name}.yaml"
    path.write_text(yaml.safe_dump({**cfg, **changes}))
    return planned_jobs(work, path)


def test_unchanged_config_plans_nothing(touched):
    work, _ = touched
    assert planned_jobs(work, work / "config.yaml") == {}


@pytest.mark.parametrize("change", [{"hparams_set": "reference"}, {"seed": 1}, {"device": "cpu"},
                                    {"cpu_matmul": "torch"}])
def test_a_changed_setting_plans_every_edit_again(touched, change):
    work, cfg = touched
    jobs = changed(work, cfg, next(iter(change)), **change)
    assert jobs.get("edit") == N_EDIT_JOBS, jobs
    assert jobs.get("edit_metrics") == N_EDIT_JOBS, jobs


def test_snakemake_lint_is_clean():
    res = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], capture_output=True, text=True, cwd=ROOT,
                         timeout=300)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]


def test_raising_n_requests_plans_only_the_new_checkpoint(touched):
    """Before, the prepared file held the first n_requests records, so 3 -> 4 rewrote it and re-ran every edit."""
    work, cfg = touched
    datasets = {d: {**block, "n_requests": 4} for d, block in cfg["datasets"].items()}
    jobs = changed(work, cfg, "extend", datasets=datasets, checkpoints=[*STEPS, 4])
    assert "prepare_data" not in jobs, jobs
    assert jobs.get("edit") == len(DATASETS) * len(METHODS), jobs  # step 4 of every chain, nothing before it
    assert jobs.get("edit_metrics") == len(DATASETS) * len(METHODS), jobs


def _mirror_copy(src, dest, change=None):
    """A folder of symlinks to every mirror file (same content, another place); ``change`` is copied and edited."""
    for path in src.rglob("*"):
        if path.is_file():
            target = dest / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            if change is not None and path.relative_to(src).as_posix() == change:
                target.write_bytes(path.read_bytes().rstrip() + b"\n ")  # same JSON, other bytes
            else:
                target.symlink_to(path)
    return dest


def test_a_moved_mirror_reruns_nothing_and_a_changed_file_reruns_its_readers(touched, data_mirror, tmp_path):
    """Before, the mirror folder's path was a param of 4 rules: moving it re-ran everything from the data on, and a
    changed file under the same path re-ran nothing."""
    work, cfg = touched
    moved = _mirror_copy(data_mirror, tmp_path / "moved")
    jobs = changed(work, cfg, "moved", data_mirror=str(moved))
    # only the report, whose provenance records the (new) config file
    assert set(jobs) <= {"report_figures_tables", "all", "total"}, jobs
    from seqedit.data.registry import get_dataset_spec

    zsre_file = next(f for f in get_dataset_spec("zsre").mirror_files if (data_mirror / f).is_file())
    edited = _mirror_copy(data_mirror, tmp_path / "edited", change=zsre_file)
    jobs = changed(work, cfg, "edited", data_mirror=str(edited))
    assert jobs.get("download_data") == 1 and "corpus" not in jobs, jobs
    assert jobs.get("edit") == len(METHODS) * len(STEPS), jobs  # zsRE's chains only
