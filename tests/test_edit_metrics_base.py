"""The unedited model's edit metrics (`seqedit edit-metrics --unedited`, rule edit_metrics_base): the same metric
code as a checkpoint's on a tiny random model, compared with direct calls of the metric functions; and the rule
planned once per (model, dataset) with the longest chain's request count."""
from __future__ import annotations

import json
import re

import pytest
from tiny_tokenizers import byte_level_bpe, tiny_llama
from touched_run import ROOT, snakemake

from seqedit.evaluation import counterfact, metrics

ZSRE = [
    {"id": f"z{i}", "subject": s, "prompt": p, "target_new": t, "paraphrase_prompts": [pp],
     "locality_prompts": [lp, lp + " and"], "locality_answers": [la, la]}
    for i, (s, p, t, pp, lp, la) in enumerate([
        ("Paris", "The capital of France is", "is", "France's capital city is", "She was born in", "1990"),
        ("Toko Yasuda", "Toko Yasuda plays the", "the guitar", "Toko Yasuda is known for the", "The official",
         "religion"),
        ("Madrid", "Autonomous University of Madrid is located in", "Italy", "The university is in", "Rome is",
         "the capital of Italy"),
        ("Edwin", "The religion of Edwin of Northumbria is", "is Islam", "Edwin believed in", "Paris is", "in France"),
    ])
]
COUNTERFACT = [
    {"id": f"c{i}", "subject": s, "prompt": p, "target_new": new, "target_true": true, "paraphrase_prompts": [pp],
     "locality_prompts": [lp], "locality_answers": [true]}
    for i, (s, p, new, true, pp, lp) in enumerate([
        ("Danielle Darrieux", "The mother tongue of Danielle Darrieux is", "English", "French",
         "Danielle Darrieux speaks", "The mother tongue of Michel Rocard is"),
        ("Toko Yasuda", "Toko Yasuda plays the", "the piano", "guitar", "Toko Yasuda is a", "Jimi Hendrix plays the"),
        ("Madrid", "Autonomous University of Madrid is located in", "Sweden", "Spain", "The university is in",
         "Seville is located in"),
    ])
]
MQUAKE = [{
    "id": "m0", "subject": "Hey Jude", "prompt": "Hey Jude was performed by", "target_new": "Madonna",
    "target_true": "The Beatles", "paraphrase_prompts": [], "locality_prompts": [], "locality_answers": [],
    "requested_rewrites": [
        {"subject": "Hey Jude", "prompt": "Hey Jude was performed by", "target_new": "Madonna",
         "target_true": "The Beatles"},
        {"subject": "Madonna", "prompt": "Madonna is a citizen of", "target_new": "France",
         "target_true": "United States"}],
    "questions": ["Of which country is the performer of Hey Jude a citizen?"], "new_answer": "France",
    "new_answer_aliases": ["French Republic"],
    "single_hops": [{"cloze": "Hey Jude was performed by", "answer": "Madonna"}],
}]
N_FILE = {"zsre": 4, "counterfact": 3, "mquake": 1}


def copying_llama(vocab_size: int):
    """A random tiny Llama whose residual stream is dominated by the input token's embedding, with that embedding
    as output head: it mostly predicts the token it reads, so a target repeating the prompt's last word is
    predicted (token accuracies other than 0)."""
    import torch

    model = tiny_llama(vocab_size, seed=3)
    with torch.no_grad():
        model.model.embed_tokens.weight.mul_(100)
        model.lm_head.weight.copy_(model.model.embed_tokens.weight)
    return model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The copying tiny Llama with a byte-level BPE tokenizer, saved as a model folder, and the requests files."""
    root = tmp_path_factory.mktemp("tiny")
    tok = byte_level_bpe()
    model_dir = root / "tiny"
    copying_llama(len(tok)).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    files = {}
    for name, reqs in (("zsre", ZSRE), ("counterfact", COUNTERFACT), ("mquake", MQUAKE)):
        files[name] = root / f"{name}.jsonl"
        files[name].write_text("".join(json.dumps(dict(r, dataset=name)) + "\n" for r in reqs))
    from seqedit.models.loading import load_model_and_tokenizer

    model, tok = load_model_and_tokenizer(str(model_dir), "float64", "cpu")
    return {"root": root, "dir": model_dir, "files": files, "model": model, "tok": tok}


def run_unedited(tiny, dataset: str, n: int, *extra: str) -> dict:
    from seqedit.cli import main

    out = tiny["root"] / "metrics" / "tiny" / dataset / "base.json"
    main(["edit-metrics", "--model-dir", str(tiny["dir"]), "--unedited", "--n-requests", str(n),
          "--requests", str(tiny["files"][dataset]), "--fluency-prompts", "2", "--fluency-tokens", "6",
          "--mquake-tokens", "4", "--seed", "5", "--dtype", "float64", "--device", "cpu", "--out", str(out), *extra])
    return json.loads(out.read_text())


def test_zsre_scores_are_the_metric_functions_on_the_unedited_model(tiny):
    model, tok = tiny["model"], tiny["tok"]
    res = run_unedited(tiny, "zsre", 3)  # the first 3 of the file's 4 requests
    reqs = ZSRE[:3]
    assert (res["model"], res["dataset"], res["method"], res["n_edits"]) == ("tiny", "zsre", None, 0)
    assert res["unedited"] is True and res["n_requests"] == 3
    assert [r["id"] for r in res["per_request"]] == ["z0", "z1", "z2"]
    eff = metrics.token_accuracy(model, tok, [r["prompt"] for r in reqs], [r["target_new"] for r in reqs])
    par = metrics.token_accuracy(model, tok, [r["paraphrase_prompts"][0] for r in reqs],
                                 [r["target_new"] for r in reqs])
    assert [r["efficacy"] for r in res["per_request"]] == pytest.approx(eff)
    assert eff[0] == 1.0 and eff[2] == 0.0 and 0 < eff[1] < 1  # " is is": copied; " Italy" is not in the prompt
    assert [r["paraphrase"] for r in res["per_request"]] == pytest.approx(par)
    assert res["efficacy"] == pytest.approx(sum(eff) / 3) and res["paraphrase"] == pytest.approx(sum(par) / 3)
    # Specificity: the unedited model agrees with itself (the ceiling of locality)
    assert [r["specificity"] for r in res["per_request"]] == [1.0, 1.0, 1.0] and res["specificity"] == 1.0
    # no edit made: both protocols evaluate this model
    assert res["protocols"]["immediate"] == res["protocols"]["sequential"]
    assert res["protocols"]["sequential"]["efficacy"] == res["efficacy"]


def test_counterfact_probabilities_and_fluency_are_those_of_the_unedited_model(tiny):
    model, tok = tiny["model"], tiny["tok"]
    res = run_unedited(tiny, "counterfact", 3)
    want = counterfact.probability_metrics(model, tok, COUNTERFACT)
    got = res["counterfact"]
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key
    assert 0 < got["score"] < 1 and 0 < got["efficacy_success"] < 1  # not all trivial
    fluency = counterfact.fluency(model, tok, counterfact.generation_prompts(COUNTERFACT, 2), 6, 5)
    assert got["fluency"] == pytest.approx(fluency) and got["fluency_base"] == pytest.approx(fluency)
    assert got["n_generation_prompts"] == 2


def test_mquake_case_is_scored_on_the_unedited_model(tiny):
    model, tok = tiny["model"], tiny["tok"]
    res = run_unedited(tiny, "mquake", 1, "--mquake-prompt", "handmade")  # no prompt file needed
    prompts, targets = [rw["prompt"] for rw in MQUAKE[0]["requested_rewrites"]], ["Madonna", "France"]
    # Efficacy of a case: the mean over its rewrites' cloze prompts
    assert res["efficacy"] == pytest.approx(sum(metrics.token_accuracy(model, tok, prompts, targets)) / 2)
    assert res["specificity"] is None  # MQuAKE has no locality prompts
    assert res["mquake"]["n_cases"] == 1 and res["n_edits"] == 0


@pytest.mark.parametrize("extra, needle", [
    ([], "--n-requests"),  # the unedited model needs a request count
    (["--n-requests", "9"], "fewer than --n-requests 9"),
    (["--n-requests", "2", "--checkpoint", "x.safetensors"], "go with --unedited"),
])
def test_bad_unedited_calls_say_why(tiny, extra, needle, capsys):
    from seqedit.evaluation.cli import cli

    argv = ["--model-dir", str(tiny["dir"]), "--requests", str(tiny["files"]["zsre"]), "--device", "cpu",
            "--out", str(tiny["root"] / "bad.json")]
    argv += [] if "--checkpoint" in extra else ["--unedited"]
    with pytest.raises((SystemExit, ValueError)) as err:
        cli("edit-metrics", argv + extra)
    assert needle in str(err.value) + capsys.readouterr().err
    assert not (tiny["root"] / "bad.json").exists()


def _base_jobs(config):
    """(output, --n-requests) of every edit_metrics_base job a dry run of ``config`` plans, and the job stats."""
    work = config["work"]
    res = snakemake(work, config["file"], "-n", "-p", "--cores", "2")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    jobs = re.findall(r"rule edit_metrics_base:\n(?:    .*\n)*?    output: (\S+)\n", out)
    n_requests = re.findall(r"seqedit edit-metrics .*--unedited --n-requests (\d+) .*--dataset (\S+) ", out)
    counts = dict(re.findall(r"^(edit_metrics_base|report_figures_tables)\s+(\d+)$", out, re.M))
    return jobs, dict((d, int(n)) for n, d in n_requests), counts


@pytest.mark.parametrize("config_file", ["config.yaml", "config/findings.yaml"])
def test_the_rule_is_planned_once_per_model_and_dataset(tmp_path, config_file):
    import yaml

    cfg = yaml.safe_load((ROOT / config_file).read_text())
    jobs, n_requests, counts = _base_jobs({"work": tmp_path, "file": ROOT / config_file})
    pairs = [(m, d) for d, block in cfg["datasets"].items() for m in block.get("models", list(cfg["models"]))]
    assert sorted(jobs) == sorted(f"results/metrics/{m}/{d}/base.json" for m, d in pairs)
    assert int(counts["edit_metrics_base"]) == len(pairs) == len(set(pairs))
    longest = {d: max(block.get("checkpoints", cfg["checkpoints"])) for d, block in cfg["datasets"].items()}
    assert n_requests == longest  # the requests edited by the longest chain
    if config_file == "config/findings.yaml":
        assert n_requests == {"zsre": 100, "counterfact": 20, "mqd_tf": 20, "mqd_mc": 20, "mqd_dg": 20}
    else:
        assert n_requests == {"zsre": 20, "counterfact": 20, "mquake": 3}
