"""Downstream evaluation with the real lm-eval: offline tasks over the data mirror, conversions, end-to-end runs."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml

from seqedit.downstream import offline
from seqedit.downstream.specs import TASKS, validate_tasks


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
    """One work dir (task YAMLs, converted data, datasets cache) for the module; environment restored after."""
    env = dict(os.environ)
    yield tmp_path_factory.mktemp("downstream_work")
    os.environ.clear()
    os.environ.update(env)
    if "datasets" in sys.modules:
        import datasets

        datasets.config.HF_DATASETS_CACHE = Path(
            os.environ.get("HF_DATASETS_CACHE", Path(datasets.config.HF_CACHE_HOME) / "datasets"))


@pytest.fixture(scope="module")
def loaded_tasks(work_dir, data_mirror):
    from seqedit.downstream.lmeval import load_tasks, setup_caches

    setup_caches(work_dir, offline=True)
    tasks = validate_tasks({key: {} for key in TASKS})
    return load_tasks(tasks, work_dir, data_mirror)


# ------------------------------------------------------------------ task specs and options
def test_unknown_task_names_it_and_lists_known():
    with pytest.raises(ValueError) as err:
        validate_tasks({"arc_challenge": {"limit": 2}, "boolq": {"limit": 2}})
    msg = str(err.value)
    assert "boolq" in msg and "arc_challenge" in msg and "truthfulqa_mc2" in msg and "gsm8k" in msg


@pytest.mark.parametrize("opts", [{"limit": 0}, {"limit": "3"}, {"num_fewshot": -1}, {"shots": 2}])
def test_bad_task_options_rejected(opts):
    with pytest.raises(ValueError):
        validate_tasks({"hellaswag": opts})


def test_max_gen_toks_only_for_generation():
    with pytest.raises(ValueError):
        validate_tasks({"arc_challenge": {"max_gen_toks": 8}})
    assert validate_tasks({"gsm8k": {"limit": 4, "max_gen_toks": 8}})["gsm8k"]["max_gen_toks"] == 8


def test_online_names_are_lm_eval_registry_names():
    from lm_eval.tasks import TaskManager

    tm = TaskManager()
    for key, spec in TASKS.items():
        expected = tm.all_groups if key == "mmlu" else tm.all_subtasks
        assert spec.lm_eval_task in expected, key


# ------------------------------------------------------------------ conversions of mirror records
def test_truthfulqa_conversion_of_first_mirror_record(data_mirror):
    recs = offline.read_jsonl(data_mirror / TASKS["truthfulqa_mc1"].file)
    first = offline.convert_truthfulqa_record(recs[0])
    assert first["question"] == "What is the smallest country in the world that is at least one square mile in area?"
    mc1 = first["mc1_targets"]
    assert mc1["labels"] == [1, 0, 0, 0]
    assert mc1["choices"][0].startswith("Nauru is the smallest country")
    mc2 = first["mc2_targets"]
    assert len(mc2["choices"]) == len(mc2["labels"]) == len(recs[0]["mc2_targets"])
    assert mc2["labels"] == list(recs[0]["mc2_targets"].values())
    # every mirror record has its one true mc1 answer first, as lm-eval's doc_to_target: 0 assumes
    assert all(r["mc1_targets"]["labels"][0] == 1 and sum(r["mc1_targets"]["labels"]) == 1
               for r in offline.convert_truthfulqa(recs))


def test_truthfulqa_conversion_rejects_true_answer_not_first():
    rec = {"question": "q?", "mc1_targets": {"wrong": 0, "right": 1}, "mc2_targets": {"right": 1, "wrong": 0}}
    with pytest.raises(ValueError):
        offline.convert_truthfulqa_record(rec)


def test_mmlu_conversion_and_round_robin(data_mirror):
    recs = offline.read_jsonl(data_mirror / TASKS["mmlu"].file)
    first = offline.convert_mmlu_record(recs[0])
    assert first == {
        "question": "Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.",
        "subject": "abstract_algebra", "choices": ["0", "4", "2", "6"], "answer": 1,
    }
    assert first["choices"][first["answer"]] == "4"
    assert offline.convert_mmlu_record({**recs[0], "answer": "C"})["answer"] == 2
    conv = offline.convert_mmlu(recs)
    assert len(conv) == 200
    assert [d["subject"] for d in conv[:5]] == [
        "abstract_algebra", "astronomy", "college_biology", "high_school_geography", "world_religions"]
    assert conv[0] == first and conv[5]["question"] == recs[1]["question"]


# ------------------------------------------------------------------ generated offline tasks in lm-eval
def test_offline_yaml_includes_lm_eval_task_file(loaded_tasks, work_dir):
    for key, spec in TASKS.items():
        cfg = yaml.safe_load((work_dir / "tasks" / f"{key}.yaml").read_text())
        assert Path(cfg["include"]).is_absolute() and Path(cfg["include"]).exists()
        assert cfg["include"].endswith(spec.yaml) and "lm_eval" in cfg["include"]
        assert cfg["dataset_path"] == "json" and cfg["dataset_name"] is None
        files = cfg["dataset_kwargs"]["data_files"]
        assert list(files) == [spec.split, "train"] and cfg["fewshot_split"] == "train"
        assert all(Path(f).exists() and Path(f).is_relative_to(work_dir) for f in files.values())


def test_offline_tasks_load_with_expected_docs(loaded_tasks):
    _, objects, leaves = loaded_tasks
    assert set(objects) == set(TASKS)
    for key, task in objects.items():
        assert list(leaves[key]) == [key]
        assert len(task.eval_docs) == 175, key  # 200 mirror records less the 25 of the few-shot pool

    arc = objects["arc_challenge"]
    doc = arc.eval_docs[0]
    assert doc["id"] == "Mercury_7175875" and arc.doc_to_target(doc) == 2  # answerKey "C"
    assert arc.doc_to_text(doc).startswith("Question: An astronomer observes")

    hs = objects["hellaswag"]
    doc = hs.eval_docs[0]  # lm-eval's process_docs ran on the mirror record
    assert doc["query"].startswith("Pole vault: Pole vault is a sport") and hs.doc_to_target(doc) == 3
    assert len(hs.doc_to_choice(doc)) == 4

    mmlu = objects["mmlu"]
    doc = mmlu.eval_docs[0]
    assert mmlu.doc_to_target(doc) == 1 and mmlu.doc_to_choice(doc) == ["A", "B", "C", "D"]
    ctx = mmlu.fewshot_context(doc, 0)
    assert ctx.startswith("The following are multiple choice questions (with answers) about abstract algebra.\n\n")
    assert ctx.endswith("A. 0\nB. 4\nC. 2\nD. 6\nAnswer:")
    ctx1 = mmlu.fewshot_context(mmlu.eval_docs[1], 0)
    assert "about astronomy.\n\n" in ctx1

    for key in ("truthfulqa_mc1", "truthfulqa_mc2"):
        t = objects[key]
        doc = t.eval_docs[0]
        assert t.doc_to_target(doc) == 0
        assert t.doc_to_choice(doc)[0].startswith("Nauru")
        assert t.fewshot_context(doc, 0).endswith("Q: " + doc["question"] + "\nA:")

    wg = objects["winogrande"]
    doc = wg.eval_docs[0]
    assert wg.doc_to_text(doc) == 1  # answer "2" -> index 1 (Maria)
    assert wg.doc_to_choice(doc)[1].endswith("so Maria")

    gsm = objects["gsm8k"]
    doc = gsm.eval_docs[0]
    assert gsm.doc_to_target(doc).endswith("#### 18")
    assert [f.name for f in gsm._filters] == ["strict-match", "flexible-extract"]


# ------------------------------------------------------------------ end to end on the real SmolLM2
TASKS_E2E = {
    "arc_challenge": {"limit": 3, "num_fewshot": 0},
    "truthfulqa_mc2": {"limit": 2},
    "winogrande": {"limit": 2},
    "gsm8k": {"limit": 1, "num_fewshot": 0, "max_gen_toks": 8},
}


def _run_cli(smollm2_dir, mirror, work_dir, out, checkpoint=None, tasks=TASKS_E2E):
    from seqedit.downstream.cli import cli

    argv = ["--model-dir", str(smollm2_dir), "--tasks-json", json.dumps(tasks), "--mirror", str(mirror),
            "--work-dir", str(work_dir), "--out", str(out), "--device", "cpu", "--batch-size", "8"]
    if checkpoint:
        argv += ["--checkpoint", str(checkpoint)]
    cli("downstream", argv)
    return json.loads(Path(out).read_text())


@pytest.fixture(scope="module")
def base_result(smollm2_dir, data_mirror, work_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("ds_out") / "base.json"
    return _run_cli(smollm2_dir, data_mirror, work_dir, out)


@pytest.mark.slow
def test_cli_base_model_writes_json(base_result, smollm2_dir):
    res = base_result
    assert res["model_dir"] == str(smollm2_dir)
    assert res["checkpoint"] is None and res["method"] is None and res["n_edits"] == 0
    assert res["lm_eval_version"] and res["seconds"] > 0
    assert set(res["tasks"]) == set(TASKS_E2E)
    for key, t in res["tasks"].items():
        assert 0.0 <= t["value"] <= 1.0, key
        assert t["limit"] == TASKS_E2E[key]["limit"] and t["n_samples"] == TASKS_E2E[key]["limit"]
        assert t["num_fewshot"] == 0
        assert t["stderr"] is None or t["stderr"] >= 0
    assert res["tasks"]["arc_challenge"]["metric"] == "acc_norm"
    assert res["tasks"]["arc_challenge"]["value"] == res["tasks"]["arc_challenge"]["all_metrics"]["acc_norm,none"]
    gsm = res["tasks"]["gsm8k"]
    assert gsm["metric"] == "exact_match (strict-match)"
    assert gsm["value"] == gsm["all_metrics"]["exact_match,strict-match"]
    assert "exact_match,flexible-extract" in gsm["all_metrics"]
    # mc2 is a probability mass, strictly inside (0, 1) for a real model
    assert 0.0 < res["tasks"]["truthfulqa_mc2"]["value"] < 1.0


@pytest.mark.slow
def test_cli_checkpoint_applied_in_memory(base_result, smollm2_dir, data_mirror, work_dir, tmp_path):
    import torch
    from safetensors.torch import load_file

    from seqedit.checkpoints import save_checkpoint

    base = load_file(str(Path(smollm2_dir) / "model.safetensors"))
    names = [f"model.layers.{i}.mlp.down_proj.weight" for i in range(4, 9)]
    weights = {n: torch.zeros_like(base[n]) for n in names}
    ckpt = tmp_path / "edits" / "step_3.safetensors"
    save_checkpoint(ckpt, weights=weights, state={}, meta={"method": "memit", "n_edits": 3, "edited_params": names})
    tasks = {k: TASKS_E2E[k] for k in ("arc_challenge", "truthfulqa_mc2")}
    res = _run_cli(smollm2_dir, data_mirror, work_dir, tmp_path / "step_3.json", checkpoint=ckpt, tasks=tasks)
    assert res["checkpoint"] == str(ckpt) and res["method"] == "memit" and res["n_edits"] == 3
    mc2_base = base_result["tasks"]["truthfulqa_mc2"]["value"]
    mc2_edit = res["tasks"]["truthfulqa_mc2"]["value"]
    assert 0.0 <= mc2_edit <= 1.0
    assert abs(mc2_edit - mc2_base) > 1e-4, (mc2_base, mc2_edit)
    # the base model on disk is untouched
    assert torch.equal(load_file(str(Path(smollm2_dir) / "model.safetensors"))[names[0]], base[names[0]])


@pytest.mark.slow
def test_weight_change_changes_lm_eval_loglikelihoods(smollm2, data_mirror, work_dir):
    from seqedit.nethooks import set_weights
    from seqedit.downstream.lmeval import evaluate_model

    model, tok = smollm2
    tasks = {"arc_challenge": {"limit": 2}}

    def loglikelihoods():
        summary, raw = evaluate_model(model, tok, tasks, work_dir, mirror=data_mirror, log_samples=True)
        samples = raw["samples"]["arc_challenge"]
        return summary, [[r[0][0] for r in s["resps"]] for s in samples]

    name = "model.layers.5.mlp.down_proj.weight"
    original = dict(model.named_parameters())[name].detach().clone()
    base_summary, base_ll = loglikelihoods()
    try:
        set_weights(model, {name: original * 0.0})
        _, edit_ll = loglikelihoods()
    finally:
        set_weights(model, {name: original})
    assert len(base_ll) == len(edit_ll) == 2 and all(len(x) == 4 for x in base_ll)
    assert all(ll < 0 for doc in base_ll for ll in doc)
    diffs = [abs(a - b) for da, db in zip(base_ll, edit_ll) for a, b in zip(da, db)]
    assert max(diffs) > 1e-3, diffs
    # restoring the weight restores the scores exactly (nothing else was changed)
    _, again_ll = loglikelihoods()
    assert again_ll == base_ll
    assert 0.0 <= base_summary["arc_challenge"]["value"] <= 1.0
