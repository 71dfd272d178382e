"""`datasets.<name>.edits_from`: an entry with the same edit requests as another (MQD's DG form = the CounterFact
request) takes that entry's checkpoints instead of editing the chain again (issue 13's budget). The copy is checked
request by request and keeps the tensors byte for byte; the DAG plans reuse jobs, not edit jobs; bad values stop
the workflow with the key's name."""
from __future__ import annotations

import json
import re

import pytest
import torch
import yaml
from test_paper_dag import dry_run, job_stats
from touched_run import ROOT

from seqedit import reuse_edits
from seqedit.checkpoints import load_checkpoint, save_checkpoint


def _requests(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _rows(n, **change):
    rows = [{"id": str(i), "prompt": f"{{}} lives in", "subject": f"S{i}", "target_new": f"N{i}",
             "target_true": f"T{i}", "paraphrase_prompts": [f"P{i}"], "locality_prompts": []} for i in range(n)]
    for index, fields in change.items():
        rows[int(index.removeprefix("r"))].update(fields)
    return rows


@pytest.fixture()
def source(tmp_path):
    requests = _requests(tmp_path / "counterfact.jsonl", _rows(4))
    ckpt = tmp_path / "cf" / "step_3.safetensors"
    meta = {"model": "m", "dataset": "counterfact", "method": "rome", "n_edits": 3, "request_ids": ["0", "1", "2"],
            "log": [{"edit": 1}]}
    save_checkpoint(ckpt, {"w": torch.arange(6.0).reshape(2, 3)}, {"s": torch.ones(2)}, meta)
    return ckpt, requests


def test_the_copy_is_the_source_checkpoint_under_the_entry_name(tmp_path, source):
    ckpt, cf_requests = source
    # the entry's file may differ after the edited prefix and in fields no edit reads
    own = _requests(tmp_path / "mqd_dg.jsonl", _rows(3, r1={"paraphrase_prompts": ["other"]}))
    out = tmp_path / "dg" / "step_3.safetensors"
    meta = reuse_edits.reuse(ckpt, cf_requests, own, "mqd_dg", out)
    weights, state, loaded = load_checkpoint(out)
    assert torch.equal(weights["w"], torch.arange(6.0).reshape(2, 3)) and torch.equal(state["s"], torch.ones(2))
    assert out.read_bytes() == ckpt.read_bytes()
    src_meta = json.loads(ckpt.with_suffix(".json").read_text())
    assert loaded == meta and loaded["tensors_sha256"] == src_meta["tensors_sha256"]
    assert loaded["dataset"] == "mqd_dg" and loaded["edits_from"] == "counterfact"
    assert loaded["request_ids"] == ["0", "1", "2"] and loaded["log"] == [{"edit": 1}]


@pytest.mark.parametrize("field", ["prompt", "subject", "target_new", "target_true", "id"])
def test_other_edits_are_refused_before_anything_is_written(tmp_path, source, field):
    ckpt, cf_requests = source
    own = _requests(tmp_path / "mqd_tf.jsonl", _rows(3, r2={field: "Claim: something else"}))
    out = tmp_path / "tf" / "step_3.safetensors"
    message = rf"datasets.mqd_tf.edits_from: request 2 of .*mqd_tf.jsonl differs .* in '{field}'"
    with pytest.raises(ValueError, match=message):
        reuse_edits.reuse(ckpt, cf_requests, own, "mqd_tf", out)
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_too_few_requests_or_a_stale_checkpoint_are_refused(tmp_path, source):
    ckpt, cf_requests = source
    short = _requests(tmp_path / "short.jsonl", _rows(2))
    with pytest.raises(ValueError, match="holds 2 requests, fewer than the 3 edits"):
        reuse_edits.reuse(ckpt, cf_requests, short, "x", tmp_path / "x" / "step_3.safetensors")
    reordered = _requests(tmp_path / "reordered.jsonl", list(reversed(_rows(4))))
    with pytest.raises(ValueError, match="was made from other requests than the first 3"):
        reuse_edits.reuse(ckpt, reordered, reordered, "x", tmp_path / "x" / "step_3.safetensors")


def test_the_command_reports_a_mismatch_as_a_clear_error(tmp_path, source):
    ckpt, cf_requests = source
    own = _requests(tmp_path / "mqd_mc.jsonl", _rows(3, r0={"target_new": "b"}))
    with pytest.raises(SystemExit, match="seqedit reuse-edits: config datasets.mqd_mc.edits_from: request 0"):
        reuse_edits.cli("reuse-edits", ["--checkpoint", str(ckpt), "--source-requests", str(cf_requests),
                                        "--requests", str(own), "--dataset", "mqd_mc",
                                        "--out", str(tmp_path / "o" / "step_3.safetensors")])


def _findings(tmp_path, drop_edits_from=False, **dg):
    cfg = yaml.safe_load((ROOT / "config" / "findings.yaml").read_text())
    cfg["datasets"]["mqd_dg"].update(dg)
    if drop_edits_from:
        del cfg["datasets"]["mqd_dg"]["edits_from"]
    path = tmp_path / "findings.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_the_findings_config_copies_the_dg_chains_instead_of_editing_them(tmp_path):
    cfg = yaml.safe_load((ROOT / "config" / "findings.yaml").read_text())
    assert cfg["datasets"]["mqd_dg"]["edits_from"] == "counterfact"
    res = dry_run(ROOT / "config" / "findings.yaml", tmp_path / "run")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    stats = job_stats(out)
    assert stats["reuse_edits"] == 3 * 1  # ROME, MEMIT, D4S at 20 edits
    assert stats["edit"] == 5 * 3 + 3 * 1 + 2 * 3 * 1  # zsRE (25, 50, 100), CounterFact, the T/F and MC forms
    assert "results/edits/smollm2-135m/counterfact/rome/step_20.safetensors" in out
    without = dry_run(_findings(tmp_path, drop_edits_from=True), tmp_path / "run2")  # edited itself, as before
    assert without.returncode == 0, without.stderr[-3000:]
    again = job_stats(without.stdout + without.stderr)
    assert again["edit"] == stats["edit"] + 3 and again.get("reuse_edits", 0) == 0


@pytest.mark.parametrize("dg, message", [
    ({"edits_from": "wikidata"}, "datasets.mqd_dg.edits_from: 'wikidata' is not another dataset entry"),
    ({"edits_from": "mqd_dg"}, "datasets.mqd_dg.edits_from: 'mqd_dg' is not another dataset entry"),
    ({"checkpoints": [5, 20]}, r"datasets.mqd_dg.edits_from: 'counterfact' has no checkpoints \[5\]"),
    ({"methods": ["rome", "pmet"]}, r"datasets.mqd_dg.edits_from: 'counterfact' has no methods \['pmet'\]"),
])
def test_a_bad_edits_from_names_the_key(tmp_path, dg, message):
    res = dry_run(_findings(tmp_path, **dg), tmp_path / "run")
    assert res.returncode != 0
    assert re.search(message, res.stdout + res.stderr), res.stderr[-3000:]
