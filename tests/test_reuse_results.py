"""`seqedit reuse-result` and rule reuse_general_perplexity: an `edits_from` entry's checkpoints are its source's
tensors, so its held-out perplexity is the source's result, copied after a hash check instead of scored again (MQD's
DG form in the findings config: 6 jobs of ~44 s). The copy must refuse other tensors; the DAG plans copies only where
the source scores the same checkpoints."""
from __future__ import annotations

import json

import pytest
import torch
import yaml
from test_paper_dag import dry_run, job_stats
from touched_run import ROOT

from seqedit import reuse_results
from seqedit.checkpoints import save_checkpoint


def _checkpoint(path, dataset, values, **meta):
    save_checkpoint(path, {"w": torch.tensor(values)}, {}, {"model": "m", "dataset": dataset, "method": "rome",
                                                             "n_edits": 2, "request_ids": ["0", "1"], **meta})
    return path


@pytest.fixture()
def pair(tmp_path):
    source = _checkpoint(tmp_path / "cf" / "step_2.safetensors", "counterfact", [1.0, 2.0])
    copy = tmp_path / "dg" / "step_2.safetensors"
    copy.parent.mkdir()
    copy.write_bytes(source.read_bytes())
    meta = json.loads(source.with_suffix(".json").read_text())
    copy.with_suffix(".json").write_text(json.dumps({**meta, "dataset": "mqd_dg", "edits_from": "counterfact"}))
    result = tmp_path / "ppl_cf.json"
    result.write_text(json.dumps({"model": "m", "dataset": "counterfact", "method": "rome", "n_edits": 2,
                                  "checkpoint": str(source), "perplexity": 33.1, "block_nll": [3.5, 3.4]}))
    return source, copy, result


def test_the_copy_is_the_source_result_under_the_entry_name(tmp_path, pair):
    source, copy, result = pair
    out = tmp_path / "ppl_dg.json"
    reuse_results.reuse_result(result, source, copy, out)
    written = json.loads(out.read_text())
    original = json.loads(result.read_text())
    assert written == {**original, "dataset": "mqd_dg", "checkpoint": str(copy), "copied_from": str(result)}
    assert written["block_nll"] == [3.5, 3.4] and written["perplexity"] == 33.1


def test_other_tensors_or_another_checkpoint_s_result_are_refused(tmp_path, pair):
    source, copy, result = pair
    out = tmp_path / "ppl_dg.json"
    other = _checkpoint(tmp_path / "x" / "step_2.safetensors", "mqd_dg", [1.0, 2.5])  # other weights
    with pytest.raises(ValueError, match=r"differ in 'tensors_sha256'.*not the same weights"):
        reuse_results.reuse_result(result, source, other, out)
    meta = json.loads(copy.with_suffix(".json").read_text())
    copy.with_suffix(".json").write_text(json.dumps({**meta, "n_edits": 3}))
    with pytest.raises(ValueError, match=r"differ in 'n_edits' \(3 vs 2\)"):
        reuse_results.reuse_result(result, source, copy, out)
    copy.with_suffix(".json").write_text(json.dumps(meta))
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({**json.loads(result.read_text()), "checkpoint": "elsewhere/step_2.safetensors"}))
    with pytest.raises(SystemExit, match=r"seqedit reuse-result: .*stale.json was computed on 'elsewhere/step_2"):
        reuse_results.cli("reuse-result", ["--source-result", str(stale), "--source-checkpoint", str(source),
                                           "--checkpoint", str(copy), "--out", str(out)])
    assert not out.exists()


def planned_outputs(res):
    return "\n".join(line for line in (res.stdout + res.stderr).splitlines() if "output:" in line)


def _findings(tmp_path, **entries):
    cfg = yaml.safe_load((ROOT / "config" / "findings.yaml").read_text())
    for name, fields in entries.items():
        cfg["datasets"][name].update(fields)
    path = tmp_path / "findings.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_the_findings_dag_copies_the_dg_perplexity_from_counterfact(tmp_path):
    res = dry_run(ROOT / "config" / "findings.yaml", tmp_path / "run")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    stats = job_stats(out)
    dg_steps = yaml.safe_load((ROOT / "config" / "findings.yaml").read_text())["datasets"]["mqd_dg"]
    assert stats["reuse_general_perplexity"] == 3  # ROME, MEMIT, D4S at DG's last checkpoint (20)
    assert "results/perplexity_general/smollm2-135m/mqd_dg/rome/step_20.json" in out
    assert dg_steps["checkpoints"][-1] == 20
    # the source does not score a checkpoint the entry scores: the entry scores its own, as before
    scored = dry_run(_findings(tmp_path, counterfact={"general_perplexity": False}), tmp_path / "run2")
    assert scored.returncode == 0, scored.stderr[-3000:]
    again = job_stats(scored.stdout + scored.stderr)
    assert again.get("reuse_general_perplexity", 0) == 0
    assert again["general_perplexity"] == stats["general_perplexity"] - 3 + 3  # CounterFact's 3 now DG's own
    assert "results/perplexity_general/smollm2-135m/counterfact/rome/step_20.json" not in planned_outputs(scored)
