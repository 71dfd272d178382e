"""The held-out perplexity's jobs in the DAG (dry runs, offline, seconds): the findings config plans one per
checkpoint of every run plus the base model, the default one per run at the last checkpoint, a config without the
key none; the per-dataset choice, the switch and bad values; the values that change a result are tracked."""
from __future__ import annotations

import pytest
import yaml
from test_paper_dag import dry_run, job_stats
from tiny_workflow import DATASETS, METHODS, STEPS, tiny_config
from touched_run import ROOT, planned_jobs, touch_run

RULES = ("general_perplexity", "general_perplexity_base")


def counts(config, workdir, *extra) -> dict[str, int]:
    res = dry_run(config, workdir, "--quiet", "rules", *extra)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    got = job_stats(res.stdout + res.stderr)
    return {rule: got.get(rule, 0) for rule in RULES}


def write(tmp_path, cfg, name="config.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_findings_config_scores_the_last_checkpoints_and_the_base_model(tmp_path):
    cfg = yaml.safe_load((ROOT / "config" / "findings.yaml").read_text())
    assert cfg["general_perplexity"] == {"corpus": "wikitext2-train-excerpt", "n_tokens": 16384, "block_length": 512,
                                         "checkpoints": "last"}
    assert cfg["datasets"]["zsre"]["general_perplexity"] == [100]  # C6 reads 100
    # zsRE 5 methods x 1; CounterFact, T/F and MC 3 methods x 1 each; DG's 3 are CounterFact's results, copied
    assert counts(ROOT / "config" / "findings.yaml", tmp_path) == {"general_perplexity": 5 * 1 + 3 * 3,
                                                                    "general_perplexity_base": 1}


def test_default_config_scores_the_last_checkpoint_only(tmp_path):
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    assert cfg["general_perplexity"]["checkpoints"] == "last"
    scored = {d: block for d, block in cfg["datasets"].items() if block.get("general_perplexity", True) is not False}
    assert sorted(scored) == ["counterfact", "zsre"]  # MQuAKE's 3 cases: switched off
    runs = sum(len(block.get("methods", cfg["methods"])) for block in scored.values())
    assert counts(ROOT / "config.yaml", tmp_path) == {"general_perplexity": runs, "general_perplexity_base": 1}
    res = dry_run(ROOT / "config.yaml", tmp_path)
    out = res.stdout + res.stderr
    for d, block in cfg["datasets"].items():
        last = block.get("checkpoints", cfg["checkpoints"])[-1]
        planned = f"perplexity_general/smollm2-135m/{d}/rome/step_{last}.json" in out
        assert planned == (d in scored), d


def test_without_the_key_or_switched_off_nothing_is_planned(tmp_path):
    tiny = yaml.safe_load((ROOT / "config" / "tiny.yaml").read_text())
    assert "general_perplexity" not in tiny
    assert counts(ROOT / "config" / "tiny.yaml", tmp_path) == {"general_perplexity": 0, "general_perplexity_base": 0}
    off = write(tmp_path, {**tiny, "general_perplexity": {"enabled": False}})
    assert counts(off, tmp_path) == {"general_perplexity": 0, "general_perplexity_base": 0}


def test_a_dataset_chooses_its_checkpoints(tmp_path):
    tiny = yaml.safe_load((ROOT / "config" / "tiny.yaml").read_text())
    datasets = {"counterfact": {"n_requests": 3, "general_perplexity": False},
                "zsre": {"n_requests": 3, "general_perplexity": [1]}}
    cfg = write(tmp_path, {**tiny, "datasets": datasets, "general_perplexity": {}})  # schema defaults: all
    assert counts(cfg, tmp_path) == {"general_perplexity": len(METHODS), "general_perplexity_base": 1}
    datasets["counterfact"]["general_perplexity"] = True
    cfg = write(tmp_path, {**tiny, "datasets": datasets, "general_perplexity": {"checkpoints": "last"}})
    assert counts(cfg, tmp_path) == {"general_perplexity": len(METHODS) * (len(STEPS) + 1),
                                     "general_perplexity_base": 1}


@pytest.mark.parametrize("block, dataset_choice, message", [
    ({"n_tokens": 1000, "block_length": 512}, None, "multiple of block_length"),
    ({"corpus": "wikitext2-trian"}, None, "unknown corpus 'wikitext2-trian'"),
    ({}, [2, 5], "datasets.zsre.general_perplexity: [5] are not checkpoints"),
    ({"checkpoints": "first"}, None, "first"),
])
def test_bad_values_stop_before_any_job(tmp_path, block, dataset_choice, message):
    tiny = yaml.safe_load((ROOT / "config" / "tiny.yaml").read_text())
    datasets = {d: dict(b) for d, b in tiny["datasets"].items()}
    if dataset_choice is not None:
        datasets["zsre"]["general_perplexity"] = dataset_choice
    res = dry_run(write(tmp_path, {**tiny, "datasets": datasets, "general_perplexity": block}), tmp_path,
                  "--quiet", "rules")
    assert res.returncode != 0 and message in res.stdout + res.stderr, res.stderr[-2000:]


@pytest.fixture(scope="module")
def touched(tmp_path_factory, data_mirror):
    work = tmp_path_factory.mktemp("touched_ppl")
    config = tiny_config(work, work / "model", data_mirror,
                         general_perplexity={"n_tokens": 1024, "block_length": 256, "checkpoints": "last"})
    touch_run(work, config)
    return work, yaml.safe_load(config.read_text())


@pytest.mark.parametrize("change", [{"n_tokens": 2048}, {"block_length": 512}, {"corpus": "wikitext2-test"}])
def test_a_changed_setting_plans_the_perplexity_jobs_again(touched, change):
    work, cfg = touched
    path = write(work, {**cfg, "general_perplexity": {**cfg["general_perplexity"], **change}}, "changed.yaml")
    jobs = planned_jobs(work, path)
    assert jobs.get("general_perplexity") == len(DATASETS) * len(METHODS), jobs  # the last checkpoint of each run
    assert jobs.get("general_perplexity_base") == 1, jobs
    assert "edit" not in jobs and "downstream" not in jobs, jobs
