"""MQD rebuild (seqedit.data.mqd): the three question forms of CounterFact facts as edit requests."""
from __future__ import annotations

import json

import pytest

from seqedit.data import registry
from seqedit.data.cli import cli
from seqedit.data.mqd import LETTERS, build_mqd, tf_statement_is_true

RELATIONS = [
    ("The mother tongue of {} is", ["French", "English", "Dutch", "Russian", "Italian", "Spanish"]),
    ("{} plays the", ["guitar", "piano", "violin", "drums", "cello", "flute"]),
]
SUBJECTS = ["Danielle Darrieux", "Toko Yasuda", "Go Hyeon-jeong", "Pierre Curie", "Ayrton Senna", "Anna Karina",
            "Ennio Morricone", "Louis Armstrong"]


def _records(n: int = 8) -> list[dict]:
    """CounterFact facts in EasyEdit's format; relations alternate, objects cycle through each relation's list."""
    recs = []
    for i in range(n):
        template, objs = RELATIONS[i % 2]
        subject = SUBJECTS[i % len(SUBJECTS)] + ("" if i < len(SUBJECTS) else f" {i}")
        recs.append({
            "case_id": 100 + i,
            "prompt": template.format(subject),
            "subject": subject,
            "ground_truth": objs[i % len(objs)],
            "target_new": objs[(i + 1) % len(objs)],
            "rephrase_prompt": f"Some text. {template.format(subject)}",
            "locality_prompt": template.format(f"Someone {i}"),
            "locality_ground_truth": objs[(i + 2) % len(objs)],
        })
    return recs


FORM_DATASETS = ("mqd_tf", "mqd_mc", "mqd_dg")


def _well_formed(req: dict, dataset: str) -> None:
    assert req["dataset"] == dataset
    assert req["subject"] in req["prompt"]
    for key in ("prompt", "target_new", "target_true"):
        assert isinstance(req[key], str) and req[key].strip() and req[key] == req[key].lstrip()
    assert req["target_new"] != req["target_true"]
    assert len(req["paraphrase_prompts"]) == len(req["locality_prompts"]) == len(req["locality_answers"]) == 1
    assert all(isinstance(x, str) and x.strip() for x in [*req["paraphrase_prompts"], *req["locality_prompts"],
                                                          *req["locality_answers"]])


@pytest.mark.parametrize("dataset", FORM_DATASETS)
def test_every_form_well_formed_and_same_facts(dataset):
    recs = _records()
    reqs = build_mqd(recs, dataset, 6, seed=0)
    assert [r["id"] for r in reqs] == [str(100 + i) for i in range(6)]
    for rec, req in zip(recs, reqs):
        _well_formed(req, dataset)
        assert req["question_form"] == dataset.removeprefix("mqd_")
        if dataset == "mqd_tf":
            assert {req["target_new"], req["target_true"]} == {"yes", "no"}
            assert req["locality_answers"] == ["yes"]
            assert req["prompt"].startswith(f"Claim: {rec['prompt']} {req['claimed_object']}.")
            assert req["paraphrase_prompts"][0].startswith(f"Claim: {rec['rephrase_prompt']} ")
        elif dataset == "mqd_mc":
            assert req["target_new"] in LETTERS and req["target_true"] in LETTERS
            opts = req["options"]
            assert opts[LETTERS.index(req["target_new"])] == rec["target_new"]
            assert opts[LETTERS.index(req["target_true"])] == rec["ground_truth"]
            for letter, opt in zip(LETTERS, opts):
                assert f"{letter}) {opt}" in req["prompt"] and f"{letter}) {opt}" in req["paraphrase_prompts"][0]
            loc = req["locality_options"]
            assert loc[LETTERS.index(req["locality_answers"][0])] == rec["locality_ground_truth"]
        else:
            assert (req["prompt"], req["target_new"], req["target_true"]) == (
                rec["prompt"], rec["target_new"], rec["ground_truth"])


def test_tf_half_true_and_the_edit_answers_the_counterfactual():
    recs = _records()
    reqs = build_mqd(recs, "mqd_tf", 8, seed=3)
    assert sum(r["statement_true"] for r in reqs) == 4
    for rec, req in zip(recs, reqs):
        if req["statement_true"]:  # the true object claimed: the edit makes the model deny it
            assert (req["claimed_object"], req["target_new"], req["target_true"]) == (rec["ground_truth"], "no", "yes")
        else:  # the counterfactual object claimed: the edit makes the model affirm it
            assert (req["claimed_object"], req["target_new"], req["target_true"]) == (rec["target_new"], "yes", "no")
    for seed in range(20):  # every pair holds one true and one false claim
        assert all(tf_statement_is_true(seed, 2 * k) != tf_statement_is_true(seed, 2 * k + 1) for k in range(10))


def test_mc_distractors_distinct_and_from_the_relation():
    recs = _records(8)
    by_template = {}
    for rec in recs:
        template = rec["prompt"].replace(rec["subject"], "{}")
        by_template.setdefault(template, set()).update({rec["ground_truth"], rec["target_new"]})
    for seed in range(5):
        for rec, req in zip(recs, build_mqd(recs, "mqd_mc", 8, seed=seed)):
            for opts in (req["options"], req["locality_options"]):
                assert len(opts) == 4 and len({o.casefold() for o in opts}) == 4
            distractors = [o for o in req["options"] if o not in (rec["target_new"], rec["ground_truth"])]
            assert len(distractors) == 2
            assert req["distractor_pool"] == "relation"
            assert set(distractors) <= by_template[rec["prompt"].replace(rec["subject"], "{}")]


def test_mc_falls_back_when_the_relation_is_too_small():
    recs = _records(4)
    recs.append({**recs[0], "case_id": 999, "prompt": "Lonely Subject was born in", "subject": "Lonely Subject",
                 "ground_truth": "Paris", "target_new": "Rome", "locality_prompt": "Someone was born in",
                 "locality_ground_truth": "Paris"})
    req = build_mqd(recs, "mqd_mc", 5, seed=0)[-1]
    assert req["distractor_pool"] == "any"
    assert len({o.casefold() for o in req["options"]}) == 4 and {"Paris", "Rome"} <= set(req["options"])


@pytest.mark.parametrize("dataset", FORM_DATASETS)
def test_same_seed_same_dataset_and_prefix_stable(dataset):
    recs = _records()
    assert build_mqd(recs, dataset, 8, seed=7) == build_mqd(recs, dataset, 8, seed=7)
    assert build_mqd(recs, dataset, 4, seed=7) == build_mqd(recs, dataset, 8, seed=7)[:4]


@pytest.mark.parametrize("dataset", ["mqd_tf", "mqd_mc"])
def test_different_seed_differs(dataset):
    recs = _records()
    assert build_mqd(recs, dataset, 8, seed=0) != build_mqd(recs, dataset, 8, seed=1)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="not an MQD dataset"):
        build_mqd(_records(), "zsre", 2, seed=0)
    with pytest.raises(ValueError, match="asked for 9 MQD facts.*only 8 usable"):
        build_mqd(_records(), "mqd_tf", 9, seed=0)


def test_registry_and_cli(tmp_path):
    for name in FORM_DATASETS:
        assert registry.DATASETS[name].built_from == "counterfact_easyedit"
    raw = tmp_path / "cf.json"
    raw.write_text(json.dumps(_records()))
    out = tmp_path / "mqd_mc.jsonl"
    cli("build-mqd", ["--dataset", "mqd_mc", "--raw", str(raw), "--n", "4", "--seed", "0", "--out", str(out)])
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == build_mqd(_records(), "mqd_mc", 4, seed=0)


def test_real_counterfact_mirror(data_mirror):
    from seqedit.data.normalize import load_records

    path = data_mirror / "counterfact" / "counterfact_edit_easyedit_first2000.json"
    if not path.exists():
        pytest.skip(f"{path} not in the mirror")
    recs = load_records(path)
    for dataset in FORM_DATASETS:
        reqs = build_mqd(recs, dataset, 40, seed=0)
        for req in reqs:
            _well_formed(req, dataset)
    mc = build_mqd(recs, "mqd_mc", 200, seed=0)
    assert all(len({o.casefold() for o in r["options"]}) == 4 for r in mc)
    assert sum(r["distractor_pool"] == "relation" for r in mc) >= 190
    assert sum(r["statement_true"] for r in build_mqd(recs, "mqd_tf", 200, seed=0)) == 100


def test_config_entry_builds_mqd_in_the_dag(tmp_path):
    """A dataset entry `mqd_tf: {n_requests: 20}` is built by build_mqd (not prepare_data) from the CounterFact raw
    file, with the config's seed, and gets its target perplexity and the data-perspective report in `rule all`."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for name in ("Snakefile", "config.yaml", "config", "rules", "profiles", "envs"):
        (tmp_path / name).symlink_to(root / name)
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "-p", "--config", "datasets={mqd_tf: {n_requests: 20}}",
         "methods=[rome]", "seed=5"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert ("seqedit build-mqd --dataset mqd_tf --raw resources/data/counterfact_easyedit.json --n 20 --seed 5 "
            "--out results/data/mqd_tf.jsonl") in out
    assert "prepare-data" not in out
    assert "results/perplexity/smollm2-135m/mqd_tf.json" in out and "seqedit report-data" in out
