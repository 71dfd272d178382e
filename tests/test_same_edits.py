"""C8 counts datasets whose checkpoints are the same weights once (mqd_dg is CounterFact's request itself)."""
from __future__ import annotations

import json

import pytest

from seqedit.report.claims_data import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, verdict_c8
from seqedit.report.same_edits import load_edit_hashes, merge_identical


def _meta(tmp_path, dataset, method, n, sha):
    path = tmp_path / f"{dataset}-{method}-{n}.json"
    path.write_text(json.dumps({"dataset": dataset, "method": method, "n_edits": n, "tensors_sha256": sha}))
    return str(path)


def test_hashes_are_read_per_method_and_edit_count(tmp_path):
    files = [_meta(tmp_path, "counterfact", "rome", 20, "aa"), _meta(tmp_path, "mqd_dg", "rome", 20, "aa"),
             _meta(tmp_path, "mqd_tf", "rome", 20, "bb"), _meta(tmp_path, "mqd_dg", "memit", 20, "cc")]
    hashes = load_edit_hashes(files)
    assert hashes[("rome", 20)] == {"counterfact": "aa", "mqd_dg": "aa", "mqd_tf": "bb"}
    assert hashes[("memit", 20)] == {"mqd_dg": "cc"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"dataset": "x", "n_edits": 1}))
    with pytest.raises(ValueError, match="bad.json.*'method'"):
        load_edit_hashes([str(bad)])


def test_identical_checkpoints_merge_under_one_name():
    damage = {"mqd_dg": (0.1, 0.01), "counterfact": (0.1, 0.01), "mqd_tf": (0.3, 0.01)}
    hashes = {("rome", 20): {"counterfact": "aa", "mqd_dg": "aa", "mqd_tf": "bb"}}
    merged, notes = merge_identical(damage, "rome", 20, hashes)
    assert merged == {"counterfact = mqd_dg": (0.1, 0.01), "mqd_tf": (0.3, 0.01)}
    assert notes == ["counterfact and mqd_dg are the same edits (identical checkpoints), counted once"]
    # another edit count, or no hashes: nothing merged
    assert merge_identical(damage, "rome", 10, hashes)[0] == damage
    assert merge_identical(damage, "rome", 20, None)[0] == damage


def test_two_names_for_one_chain_are_not_two_datasets_that_agree():
    """Before, counterfact and mqd_dg (the same edits) were an 'equivalent' pair: C8 'not reproduced'."""
    damage = {"counterfact": (0.02, 0.001), "mqd_dg": (0.02, 0.001)}
    same = {("memit", 20): {"counterfact": "aa", "mqd_dg": "aa"}}
    assert verdict_c8({"memit": (20, damage)})["verdict"] == NOT_REPRODUCED  # without the hashes
    got = verdict_c8({"memit": (20, damage)}, same_edits=same)
    assert got["verdict"] == INCONCLUSIVE
    assert "fewer than two datasets" in got["evidence"] and "counted once" in got["evidence"]
    # a third, different dataset still decides
    damage3 = {**damage, "mqd_mc": (0.2, 0.001)}
    got3 = verdict_c8({"memit": (20, damage3)}, same_edits=same)
    assert got3["verdict"] == REPRODUCED and "1 of 1 pairs" in got3["evidence"]
