"""A run folder copied or moved elsewhere plans nothing again: the input paths that Snakemake records name nothing
outside the folder's own relative paths (before, the hparams files' absolute paths were an input of every edit job,
so a copied findings run re-edited every chain: "set of input files has changed since last execution")."""
from __future__ import annotations

import shutil

import pytest
import yaml

from tiny_workflow import tiny_config
from touched_run import planned_jobs, touch_run

REPORT_ONLY = {"report_figures_tables", "all", "total"}  # the report's provenance names the config file it read


@pytest.fixture(scope="module")
def moved(tmp_path_factory, data_mirror):
    base = tmp_path_factory.mktemp("moved_run")
    work = base / "run"
    work.mkdir()
    config = tiny_config(work, base / "model", data_mirror)
    cfg = yaml.safe_load(config.read_text())
    cfg["hparams_dir"] = "hparams"  # inside the run folder, as config/hparams is in a clone
    config.write_text(yaml.safe_dump(cfg))
    touch_run(work, config)
    copy = base / "copy"
    shutil.copytree(work, copy, symlinks=True)
    return work, copy


def test_a_copied_run_folder_plans_nothing_but_the_report(moved):
    _, copy = moved
    jobs = planned_jobs(copy, copy / "config.yaml")
    assert set(jobs) <= REPORT_ONLY, jobs


def test_the_original_folder_is_still_up_to_date(moved):
    work, _ = moved
    assert planned_jobs(work, work / "config.yaml") == {}
