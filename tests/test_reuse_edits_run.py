"""A real `snakemake` run with `edits_from` (the tiny config's model and hyperparameters): MQD's DG form takes
CounterFact's ROME chain instead of editing it again; its own evaluations run on the copy; extending both entries
edits CounterFact only (the DG entry's copies are made again)."""
from __future__ import annotations

import json

import pytest
import yaml

from test_workflow import snakemake
from tiny_workflow import tiny_config

pytestmark = pytest.mark.slow
MODEL = "smollm2-135m"


@pytest.fixture(scope="module")
def reuse_run(tmp_path_factory, smollm2_dir, data_mirror):
    work = tmp_path_factory.mktemp("reuse_run")
    config = tiny_config(work, smollm2_dir, data_mirror, methods=["rome"], datasets={
        "counterfact": {"n_requests": 2, "checkpoints": [1, 2], "downstream": False},
        "mqd_dg": {"n_requests": 2, "checkpoints": [2], "downstream": False, "edits_from": "counterfact"},
    }, general_perplexity={"n_tokens": 512, "block_length": 256, "checkpoints": "last"})
    res = snakemake(work, config)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    return work, config


def test_the_dg_checkpoint_is_counterfacts_and_is_evaluated_on_its_own_requests(reuse_run):
    work, _ = reuse_run
    edits = work / "results" / "edits" / MODEL
    source, copy = edits / "counterfact/rome/step_2.safetensors", edits / "mqd_dg/rome/step_2.safetensors"
    assert copy.read_bytes() == source.read_bytes()
    meta = json.loads(copy.with_suffix(".json").read_text())
    assert (meta["dataset"], meta["edits_from"], meta["n_edits"]) == ("mqd_dg", "counterfact", 2)
    assert meta["tensors_sha256"] == json.loads(source.with_suffix(".json").read_text())["tensors_sha256"]
    assert not (work / "logs" / "edit" / MODEL / "mqd_dg").exists()  # never edited
    assert (work / "logs" / "reuse_edits" / MODEL / "mqd_dg" / "rome" / "step_2.log").exists()
    metrics = json.loads((work / "results" / "metrics" / MODEL / "mqd_dg" / "rome" / "step_2.json").read_text())
    assert metrics["n_edits"] == 2 and 0.0 <= metrics["efficacy"] <= 1.0
    assert (work / "results" / "tables" / MODEL / "claims_data.json").exists()


def test_the_dg_held_out_perplexity_is_counterfacts_result_copied(reuse_run):
    """The same tensors give the same perplexity: the DG entry's file is CounterFact's, copied (no scoring job)."""
    work, _ = reuse_run
    scored = work / "results" / "perplexity_general" / MODEL
    source = json.loads((scored / "counterfact/rome/step_2.json").read_text())
    copy = json.loads((scored / "mqd_dg/rome/step_2.json").read_text())
    assert copy["block_nll"] == source["block_nll"] and copy["perplexity"] == source["perplexity"]
    assert copy["dataset"] == "mqd_dg" and copy["checkpoint"].endswith("mqd_dg/rome/step_2.safetensors")
    assert copy["copied_from"] == "results/perplexity_general/smollm2-135m/counterfact/rome/step_2.json"
    assert not (work / "logs" / "general_perplexity" / MODEL / "mqd_dg").exists()
    assert (work / "logs" / "reuse_general_perplexity" / MODEL / "mqd_dg" / "rome" / "step_2.log").exists()


def test_extending_both_entries_edits_counterfact_only(reuse_run):
    work, config = reuse_run
    cfg = yaml.safe_load(config.read_text())
    cfg["datasets"]["counterfact"].update(n_requests=3, checkpoints=[1, 2, 3])
    cfg["datasets"]["mqd_dg"].update(n_requests=3, checkpoints=[2, 3])
    bigger = work / "config_more.yaml"
    bigger.write_text(yaml.safe_dump(cfg))
    res = snakemake(work, bigger, "-n")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    counts = {line.split()[0]: int(line.split()[1]) for line in out.split("Job stats:")[-1].splitlines()
              if len(line.split()) == 2 and line.split()[1].isdigit()}
    # one edit job: CounterFact's third edit; none for mqd_dg. Its file is rebuilt for 3 facts (build_mqd writes
    # exactly n_requests), so both of its copies are made again (1.5 s each), from CounterFact's checkpoints 2 and 3
    assert counts["edit"] == 1 and counts["build_mqd"] == 1 and counts["reuse_edits"] == 2, counts
    assert "logs/edit/smollm2-135m/mqd_dg" not in out and "logs/edit/smollm2-135m/counterfact/rome/step_3.log" in out
    assert "logs/reuse_edits/smollm2-135m/mqd_dg/rome/step_3.log" in out
