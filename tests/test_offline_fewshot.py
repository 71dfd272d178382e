"""Offline lm-eval tasks draw their few-shot examples from items disjoint from the evaluated ones."""
from __future__ import annotations

import json

import yaml

from seqedit.downstream import offline
from seqedit.downstream.specs import TASKS


def _ids(path):
    return [json.dumps(r, sort_keys=True) for r in offline.read_jsonl(path)]


def test_fewshot_pool_is_disjoint_from_the_evaluated_records(tmp_path, data_mirror):
    yamls = offline.write_task_yamls(list(TASKS), data_mirror, tmp_path)
    for key, path in yamls.items():
        cfg = yaml.safe_load(path.read_text())
        spec = TASKS[key]
        files = cfg["dataset_kwargs"]["data_files"]
        assert cfg["fewshot_split"] != spec.split and cfg["fewshot_split"] in files, key
        evaluated, pool = _ids(files[spec.split]), _ids(files[cfg["fewshot_split"]])
        assert len(pool) == offline.FEWSHOT_POOL and evaluated
        assert not set(evaluated) & set(pool), key
        # together they are the whole (converted) mirror file, in order
        whole = offline.read_jsonl(data_mirror / spec.file)
        if spec.convert:
            whole = offline.CONVERTERS[spec.convert](whole)
        assert evaluated + pool == [json.dumps(r, sort_keys=True) for r in whole]


def test_offline_mmlu_is_labelled_a_subset():
    assert "5 of 57 subjects" in TASKS["mmlu"].offline_label
