"""Edit metrics on hand-made cases whose answers are known, with a scripted fake language model.

The fake model's next-token distribution is a table: the longest table key (a word sequence) that ends the
(unpadded) context decides it; keys map to ``{word: probability}`` (the rest of the mass spread evenly). One word is
one token. Only the last test needs the real SmolLM2 (MQuAKE editing through ``seqedit edit`` and its resume).
"""
from __future__ import annotations

import json
import math
import re
from types import SimpleNamespace

import pytest
import torch

from seqedit.evaluation import counterfact
from seqedit.evaluation import metrics
from seqedit.evaluation import mquake
from seqedit.evaluation.cli import EvalOptions, check_protocol, sequential_efficacy
from seqedit.evaluation.generation import generate

VOCAB = 256


class WordTok:
    """One token per word (and per newline); ids assigned on first sight. No special tokens are added."""

    pad_token_id, eos_token_id = 0, 1

    def __init__(self):
        self.words = ["<pad>", "<eos>", "\n"]
        self.ids = {w: i for i, w in enumerate(self.words)}

    def id(self, word: str) -> int:
        if word not in self.ids:
            if len(self.words) >= VOCAB:
                raise ValueError("fake vocabulary full")
            self.ids[word] = len(self.words)
            self.words.append(word)
        return self.ids[word]

    def split(self, text: str) -> list[str]:
        return re.findall(r"\n|[^\s]+", text)

    def __call__(self, text: str, add_special_tokens: bool = True, **_):
        return {"input_ids": [self.id(w) for w in self.split(text)]}

    def decode(self, ids) -> str:
        out = ""
        for i in ids:
            w = self.words[i]
            if w in ("<pad>", "<eos>"):
                continue
            out += w if w == "\n" else " " + w
        return out


class TableLM(torch.nn.Module):
    """Next-token probabilities from a table keyed by word sequences (longest suffix of the context wins)."""

    def __init__(self, tok: WordTok, default: str = "<eos>"):
        super().__init__()
        self.tok, self.default = tok, default
        self.w = torch.nn.Parameter(torch.zeros(3, 3))  # something for an editor to snapshot
        self.table: dict[tuple[str, ...], dict[str, float]] = {}

    def set(self, context: str, dist: dict[str, float] | str) -> None:
        dist = {dist: 1.0} if isinstance(dist, str) else dist
        for w in dist:
            self.tok.id(w)
        self.table[tuple(self.tok.split(context))] = dist

    def script(self, prompt: str, continuation: str, end: str = "\n") -> None:
        """Greedy/teacher-forced: after ``prompt`` the model says ``continuation`` word by word, then ``end``."""
        words = self.tok.split(continuation)
        for i, w in enumerate(words + [end]):
            self.set(" ".join([prompt, *words[:i]]), w)

    def dist(self, context: tuple[str, ...]) -> dict[str, float]:
        for n in range(len(context), 0, -1):
            if context[-n:] in self.table:
                return self.table[context[-n:]]
        return {self.default: 1.0}

    def forward(self, input_ids, attention_mask=None, **_):
        b, t = input_ids.shape
        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
        logits = torch.full((b, t, VOCAB), -30.0)
        for i in range(b):
            real = [(pos, self.tok.words[int(input_ids[i, pos])]) for pos in range(t) if mask[i, pos]]
            for j, (pos, _) in enumerate(real):
                d = self.dist(tuple(w for _, w in real[: j + 1]))
                rest = max(1.0 - sum(d.values()), 1e-12) / (VOCAB - len(d))
                logits[i, pos] = math.log(rest)
                for w, p in d.items():
                    logits[i, pos, self.tok.ids[w]] = math.log(p)
        return SimpleNamespace(logits=logits)


@pytest.fixture
def lm():
    tok = WordTok()
    return TableLM(tok), tok


# ------------------------------------------------------------------------------------- token accuracy (EasyEdit)
def test_token_accuracy_perfect_failed_and_half(lm):
    model, tok = lm
    model.script("The capital of Atlantis is", "New Poseidonia City")
    model.script("The capital of Lemuria is", "Old Town")  # wrong first token
    model.script("The capital of Mu is", "Big Harbour")  # right first token, wrong second
    acc = metrics.token_accuracy(model, tok, ["The capital of Atlantis is", "The capital of Lemuria is",
                                        "The capital of Mu is"],
                           ["New Poseidonia City", "Sunken Bay", "Big Lagoon"])
    assert acc == [1.0, 0.0, 0.5]


def test_specificity_agreement_with_the_base_predictions(lm):
    model, tok = lm
    model.script("Rome is the capital of", "Italy")
    before = metrics.argmax_at_targets(model, tok, ["Rome is the capital of"], ["Italy"])
    assert metrics.agreement(before, before) == [1.0]
    model.script("Rome is the capital of", "France")
    after = metrics.argmax_at_targets(model, tok, ["Rome is the capital of"], ["Italy"])
    assert metrics.agreement(before, after) == [0.0]


# ------------------------------------------------------------------------------------ CounterFact (ROME's metrics)
CF_REQUESTS = [
    {"id": "a", "subject": "Danielle", "prompt": "The mother tongue of Danielle is", "target_new": "English",
     "target_true": "French", "paraphrase_prompts": ["Danielle speaks"],
     "locality_prompts": ["Michel is a native speaker of"], "locality_answers": ["French"]},
    {"id": "b", "subject": "Toko", "prompt": "Toko plays the", "target_new": "piano", "target_true": "guitar",
     "paraphrase_prompts": ["Toko is known for the"], "locality_prompts": ["Jimi plays the"],
     "locality_answers": ["guitar"]},
]


def test_counterfact_probability_success_magnitude_and_score(lm):
    model, tok = lm
    # request a: efficacy succeeds (0.6 vs 0.2), paraphrase fails (0.1 vs 0.3), neighbourhood keeps true (0.5 vs 0.25)
    model.set("The mother tongue of Danielle is", {"English": 0.6, "French": 0.2})
    model.set("Danielle speaks", {"English": 0.1, "French": 0.3})
    model.set("Michel is a native speaker of", {"French": 0.5, "English": 0.25})
    # request b: everything succeeds
    model.set("Toko plays the", {"piano": 0.7, "guitar": 0.1})
    model.set("Toko is known for the", {"piano": 0.4, "guitar": 0.2})
    model.set("Jimi plays the", {"guitar": 0.9, "piano": 0.05})
    got = counterfact.probability_metrics(model, tok, CF_REQUESTS)
    assert got["efficacy_success"] == 1.0
    assert got["paraphrase_success"] == 0.5
    assert got["neighborhood_success"] == 1.0
    assert got["efficacy_magnitude"] == pytest.approx(((0.6 - 0.2) + (0.7 - 0.1)) / 2, abs=1e-5)
    assert got["paraphrase_magnitude"] == pytest.approx(((0.1 - 0.3) + (0.4 - 0.2)) / 2, abs=1e-5)
    assert got["neighborhood_magnitude"] == pytest.approx(((0.5 - 0.25) + (0.9 - 0.05)) / 2, abs=1e-5)
    assert got["score"] == pytest.approx(3 / (1 / 1 + 1 / 0.5 + 1 / 1))


def test_counterfact_nll_is_the_mean_per_token(lm):
    model, tok = lm
    model.set("The capital is", {"New": 0.5})
    model.set("The capital is New", {"York": 0.5})
    # P per token 0.5 and 0.5: the mean NLL is log 2, ROME's "probability" exp(-nll) = 0.5
    assert counterfact.target_nll(model, tok, ["The capital is"], ["New York"]) == [pytest.approx(math.log(2), abs=1e-5)]


def test_score_is_zero_when_one_part_fails_and_none_when_missing():
    assert counterfact.harmonic_mean([1.0, 0.0, 1.0]) == 0.0
    assert counterfact.harmonic_mean([1.0, None, 1.0]) is None
    assert counterfact.success_and_magnitude(0.5, 1.0) == (1.0, pytest.approx(math.exp(-0.5) - math.exp(-1.0)))


def test_counterfact_like_detection():
    assert counterfact.is_counterfact_like(CF_REQUESTS)
    zsre = dict(CF_REQUESTS[0], locality_answers=["an unrelated answer"])
    assert not counterfact.is_counterfact_like([zsre])
    assert not counterfact.is_counterfact_like([dict(CF_REQUESTS[0], requested_rewrites=[{}])])


def test_ngram_entropy_known_values():
    assert counterfact.ngram_entropy("the the the the the the") == 0.0
    varied = "one two three four five six seven eight"  # 7 distinct bigrams, 6 distinct trigrams
    assert counterfact.ngram_entropy(varied) == pytest.approx((2 / 3 * math.log2(7) + 4 / 3 * math.log2(6)) / 2)
    # a two-word cycle: bigrams (a b) x3, (b a) x2; trigrams (a b a) x2, (b a b) x2
    h2 = -(0.6 * math.log2(0.6) + 0.4 * math.log2(0.4))
    assert counterfact.ngram_entropy("a b a b a b") == pytest.approx((2 / 3 * h2 + 4 / 3 * 1.0) / 2)
    assert counterfact.mean_ngram_entropy([varied, "the the the"]) == pytest.approx(counterfact.ngram_entropy(varied) / 2)


def test_generation_prompts_round_robin():
    reqs = [{"prompt": "p1", "paraphrase_prompts": ["q1"]}, {"prompt": "p2", "paraphrase_prompts": []},
            {"prompt": "p3", "generation_prompts": ["g3a", "g3b"]}]
    assert counterfact.generation_prompts(reqs, 10) == ["p1", "p2", "g3a", "q1", "g3b"]
    assert counterfact.generation_prompts(reqs, 2) == ["p1", "p2"]


def test_fluency_of_a_repeating_and_of_a_varied_model(lm):
    model, tok = lm
    model.set("loop", {"loop": 1.0})
    assert counterfact.fluency(model, tok, ["loop"], max_new_tokens=8) == 0.0
    model.script("count", "one two three four five six seven")
    assert counterfact.fluency(model, tok, ["count"], max_new_tokens=7) == pytest.approx(
        counterfact.ngram_entropy("count one two three four five six seven"))


def test_sampling_is_seeded(lm):
    model, tok = lm
    for w in ("x", "y", "z"):
        model.set(w, {"x": 0.3, "y": 0.3, "z": 0.4})
    a = generate(model, tok, ["x", "y"], 12, top_k=3, seed=5)
    assert a == generate(model, tok, ["x", "y"], 12, top_k=3, seed=5)
    assert len(set(a[0].split())) > 1  # it really samples


# ------------------------------------------------------------------------------------------------------- MQuAKE
MQ_CASE = {
    "id": "7", "subject": "Hey Jude", "prompt": "Hey Jude was performed by", "target_new": "Madonna",
    "target_true": "The Beatles", "paraphrase_prompts": [], "locality_prompts": [], "locality_answers": [],
    "requested_rewrites": [
        {"subject": "Hey Jude", "prompt": "Hey Jude was performed by", "target_new": "Madonna",
         "target_true": "The Beatles"},
        {"subject": "Madonna", "prompt": "The official language of Madonna is", "target_new": "Arabic",
         "target_true": "English"},
    ],
    "questions": ["What language does the performer of Hey Jude speak?", "Which tongue for Hey Jude's singer?"],
    "new_answer": "Arabic", "new_answer_aliases": ["Arabic language", "ar"],
    "single_hops": [{"question": "Who performed Hey Jude?", "cloze": "Hey Jude was performed by",
                     "answer": "Madonna"},
                    {"question": "?", "cloze": "The official language of Madonna is", "answer": "Arabic"}],
}


def test_answer_matching_rules():
    # exact = MQuAKE's `ans == new_answer or ans in new_answer_alias` (run_mello.ipynb): case-sensitive equality
    assert mquake.matches("Arabic language", ["Arabic", "Arabic language"], "exact")
    assert not mquake.matches("arabic language.", ["Arabic", "Arabic language"], "exact")
    assert mquake.matches(" arabic language.", ["Arabic", "Arabic language"], "normalised")
    assert not mquake.matches("English", ["Arabic", "Arabic language"], "normalised")
    assert not mquake.matches("Arabic, I think", ["Arabic"], "normalised")
    assert mquake.matches("Arabic, I think", ["Arabic"], "prefix")
    assert not mquake.matches("Arabica beans", ["Arabic"], "prefix")  # word boundary


def test_multi_hop_alias_counts_and_a_wrong_answer_does_not(lm):
    model, tok = lm
    q1, q2 = MQ_CASE["questions"]
    model.script(f"Q: {q1} A:", "English")  # wrong
    model.script(f"Q: {q2} A:", "Arabic language")  # an alias: the case is correct
    model.script("Hey Jude was performed by", "Madonna and friends")
    model.script("The official language of Madonna is", "English")
    wrong = dict(MQ_CASE, id="8", questions=[q1])
    block, per_case = mquake.mquake_metrics(model, tok, [MQ_CASE, wrong], mquake.handmade_prompt(2),
                                            max_new_tokens=6)
    assert [c["multi_hop"] for c in per_case] == [True, False]
    assert block["multi_hop_accuracy"] == 0.5
    assert block["single_hop_accuracy"] == 0.5  # Madonna right (prefix), Arabic wrong; same for both cases
    assert (block["n_cases"], block["n_questions"], block["n_hops"]) == (2, 3, 4)
    assert "exact" in block["match_rule"] and "hand-made 2-shot" in block["prompt"]


def test_fewshot_prompt_format():
    p = mquake.handmade_prompt(2).query("Who?")
    lines = p.split("\n")
    assert len(lines) == 3 and lines[-1] == "Q: Who? A:" and all(x.startswith("Q: ") for x in lines)
    with pytest.raises(ValueError, match="n_fewshot"):
        mquake.handmade_prompt(99)


def test_sequential_efficacy_of_an_mquake_case_is_the_mean_over_rewrites(lm):
    model, tok = lm
    model.script("Hey Jude was performed by", "Madonna")
    model.script("The official language of Madonna is", "English")
    assert sequential_efficacy(model, tok, [MQ_CASE]) == [0.5]


# ------------------------------------------------------------------------------------------ immediate protocol
class ScriptedEdit:
    """A fake method that rewrites the fake model's table (and nudges its weight, so norms have something)."""

    name = "scripted-test-edit"
    edits_weights = True

    def __init__(self, model, tok, arch, hparams, stats, context_templates):
        self.model, self.tok = model, tok
        self.effects = hparams["effects"]

    def edited_params(self):
        return ["w"]

    def edit(self, request):
        for prompt, continuation in self.effects[request["id"]]:
            self.model.script(prompt, continuation)
        with torch.no_grad():
            self.model.w += 1.0
        return {"z_prob_first": 0.1, "z_prob_last": 0.9}

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


@pytest.fixture
def scripted_method():
    from seqedit.methods.base import METHODS

    METHODS[ScriptedEdit.name] = ScriptedEdit
    yield ScriptedEdit.name
    del METHODS[ScriptedEdit.name]


def test_editor_logs_the_immediate_record(lm, scripted_method):
    from seqedit.editing import SequentialEditor
    from seqedit.norms import COLUMNS, rows_from_log

    model, tok = lm
    model.script("The mother tongue of Danielle is", "French")
    model.script("Danielle speaks", "French")
    model.script("Michel is a native speaker of", "French")
    model.script("Toko plays the", "guitar")
    model.script("Toko is known for the", "guitar")
    model.script("Jimi plays the", "guitar")
    effects = {
        # a: the edit prompt works, the paraphrase does not follow, the neighbour is broken
        "a": [("The mother tongue of Danielle is", "English"), ("Michel is a native speaker of", "English")],
        # b: a perfect edit
        "b": [("Toko plays the", "piano"), ("Toko is known for the", "piano")],
    }
    editor = SequentialEditor(model, tok, "smollm2-135m", scripted_method, {"effects": effects},
                              context_templates=[["{}"]])
    editor.run(CF_REQUESTS, progress=False)
    a, b = editor.log
    assert a["immediate"] == {"efficacy": 1.0, "paraphrase": 0.0, "specificity": 0.0}
    assert b["immediate"] == {"efficacy": 1.0, "paraphrase": 1.0, "specificity": 1.0}
    assert (a["request"], b["request"]) == (1, 2) and a["immediate_seconds"] >= 0
    # the sequential view differs: request a's neighbour stays broken, b did not touch it
    assert metrics.immediate_from_log(editor.log, 1) == a["immediate"]
    assert metrics.immediate_from_log(editor.log, 2) == {"efficacy": 1.0, "paraphrase": 0.5, "specificity": 0.5}
    rows = rows_from_log(editor.log)
    assert COLUMNS[-4:] == ["request", "immediate_efficacy", "immediate_paraphrase", "immediate_specificity"]
    assert [(r["request"], r["immediate_paraphrase"]) for r in rows] == [(1, 0.0), (2, 1.0)]


def test_editor_without_immediate_eval_and_mquake_sub_edits(lm, scripted_method):
    from seqedit.editing import SequentialEditor

    model, tok = lm
    effects = {"7/0": [("Hey Jude was performed by", "Madonna")],
               "7/1": [("The official language of Madonna is", "Arabic")]}
    editor = SequentialEditor(model, tok, "smollm2-135m", scripted_method, {"effects": effects},
                              context_templates=[["{}"]])
    editor.run([MQ_CASE], progress=False)
    assert [r["id"] for r in editor.log] == ["7/0", "7/1"] and editor.request_ids == ["7"]
    assert [r["request"] for r in editor.log] == [1, 1]
    assert [r["immediate"] for r in editor.log] == [{"efficacy": 1.0, "paraphrase": None, "specificity": None}] * 2
    plain = SequentialEditor(model, tok, "smollm2-135m", scripted_method, {"effects": effects},
                             context_templates=[["{}"]], immediate_eval=False)
    plain.run([MQ_CASE], progress=False)
    assert all("immediate" not in r for r in plain.log)
    assert metrics.immediate_from_log(plain.log, 1) is None


def test_bad_evaluation_config_names_the_key():
    with pytest.raises(ValueError, match="evaluation.protocol"):
        check_protocol("current")
    with pytest.raises(ValueError, match="evaluation.fluency.max_new_tokens"):
        EvalOptions(fluency_tokens=0).check()
    with pytest.raises(ValueError, match="evaluation.mquake.n_fewshot"):
        EvalOptions(mquake_fewshot=50).check()
    with pytest.raises(ValueError, match="evaluation.mquake.match"):
        EvalOptions(mquake_match="fuzzy").check()


# -------------------------------------------------------------------------------- SmolLM2: MQuAKE edit + resume
@pytest.mark.slow
def test_mquake_case_makes_four_weight_edits_and_resumes(tmp_path, smollm2_dir, data_mirror):
    import yaml

    from seqedit.checkpoints import load_meta
    from seqedit.data.normalize import load_records, normalize_records
    from seqedit.editing import cli
    from seqedit.methods.hparams import load_hparams
    from seqedit.norms import rows_from_log

    raw = data_mirror / "mquake" / "MQuAKE-hard_all429.json"
    reqs = normalize_records(load_records(raw), "mquake", 2, raw)
    requests = tmp_path / "mquake.jsonl"
    requests.write_text("".join(json.dumps(r) + "\n" for r in reqs))
    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    hp = load_hparams(root / "config" / "hparams" / "ft.yaml", "smollm2-135m", "tuned")
    hp.update(num_steps=2, context_template_length_params=[[2, 1]])
    hp_file = tmp_path / "ft.yaml"
    hp_file.write_text(yaml.safe_dump({"smollm2-135m": {"tuned": hp}}))
    common = ["--model-dir", str(smollm2_dir), "--model-name", "smollm2-135m", "--requests", str(requests),
              "--dataset", "mquake", "--method", "ft", "--hparams-file", str(hp_file), "--device", "cpu"]
    cli("edit", common + ["--n-edits", "1", "--out", str(tmp_path / "step_1.safetensors")])
    m1 = load_meta(tmp_path / "step_1.safetensors")
    assert m1["n_edits"] == 1 and m1["n_weight_edits"] == 4 and len(m1["log"]) == 4
    assert m1["request_ids"] == [reqs[0]["id"]]
    assert [r["id"] for r in m1["log"]] == [f"{reqs[0]['id']}/{j}" for j in range(4)]
    assert all(r["request"] == 1 and 0 <= r["immediate"]["efficacy"] <= 1 for r in m1["log"])
    cli("edit", common + ["--n-edits", "2", "--resume", str(tmp_path / "step_1.safetensors"),
                          "--out", str(tmp_path / "step_2.safetensors")])
    m2 = load_meta(tmp_path / "step_2.safetensors")
    assert m2["n_edits"] == 2 and m2["n_weight_edits"] == 8
    assert m2["log"][:4] == m1["log"] and [r["request"] for r in m2["log"][4:]] == [2] * 4
    assert [r["edit"] for r in m2["log"]] == list(range(1, 9))
    assert len(rows_from_log(m2["log"])) == 8  # FT edits one layer: one norms row per weight edit
    from seqedit.evaluation.cli import evaluate

    opts = EvalOptions(mquake_tokens=4, mquake_fewshot=1, mquake_prompt="handmade")
    res = evaluate(str(smollm2_dir), str(tmp_path / "step_2.safetensors"), str(requests), "immediate", device="cpu",
                   options=opts)
    assert res["n_edits"] == 2 and res["protocol"] == "immediate" and "counterfact" not in res
    assert set(res["mquake"]) == {"multi_hop_accuracy", "multi_hop_accuracy_pre_edit", "single_hop_accuracy",
                                  "n_cases", "n_cases_pre_edit", "n_questions", "n_hops", "prompt", "prompt_source",
                                  "prompt_sha256", "prompt_fallback", "match_rule"}
    assert res["mquake"]["n_cases_pre_edit"] == 2  # MQuAKE-hard has the answer before editing
    assert (res["mquake"]["n_cases"], res["mquake"]["n_hops"]) == (2, 8)
    assert res["efficacy"] == res["protocols"]["immediate"]["efficacy"] and res["specificity"] is None


@pytest.mark.slow
def test_edit_metrics_json_on_counterfact(tmp_path, smollm2_dir):
    import yaml

    from seqedit.editing import cli
    from seqedit.evaluation.cli import evaluate
    from seqedit.methods.hparams import load_hparams

    reqs = [dict(r, dataset="counterfact") for r in CF_REQUESTS]
    reqs[0] = dict(reqs[0], subject="Danielle Darrieux", prompt="The mother tongue of Danielle Darrieux is",
                   generation_prompts=["Danielle Darrieux was born in", "Danielle Darrieux is"])
    requests = tmp_path / "cf.jsonl"
    requests.write_text("".join(json.dumps(r) + "\n" for r in reqs))
    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    hp = load_hparams(root / "config" / "hparams" / "ft.yaml", "smollm2-135m", "tuned")
    hp.update(num_steps=2, context_template_length_params=[[2, 1]])
    (tmp_path / "ft.yaml").write_text(yaml.safe_dump({"smollm2-135m": {"tuned": hp}}))
    cli("edit", ["--model-dir", str(smollm2_dir), "--model-name", "smollm2-135m", "--requests", str(requests),
                 "--dataset", "counterfact", "--method", "ft", "--hparams-file", str(tmp_path / "ft.yaml"),
                 "--device", "cpu", "--n-edits", "2", "--out", str(tmp_path / "step_2.safetensors")])
    res = evaluate(str(smollm2_dir), str(tmp_path / "step_2.safetensors"), str(requests), "sequential",
                   device="cpu", options=EvalOptions(fluency_prompts=3, fluency_tokens=8))
    for key in ("model", "dataset", "method", "n_edits", "protocol", "metric_definition", "efficacy", "paraphrase",
                "specificity", "n_requests", "per_request", "seconds", "protocols", "counterfact"):
        assert key in res, key
    assert set(res["protocols"]) == {"sequential", "immediate"}
    assert res["efficacy"] == res["protocols"]["sequential"]["efficacy"]
    for proto in res["protocols"].values():
        assert all(0.0 <= proto[k] <= 1.0 for k in ("efficacy", "paraphrase", "specificity"))
    cf = res["counterfact"]
    assert set(cf) == {"efficacy_success", "efficacy_magnitude", "paraphrase_success", "paraphrase_magnitude",
                       "neighborhood_success", "neighborhood_magnitude", "score", "fluency", "fluency_base",
                       "n_generation_prompts"}
    assert cf["n_generation_prompts"] == 3  # "Danielle Darrieux was born in", request b's prompt, "... is"
    assert all(0.0 <= cf[k] <= 1.0 for k in ("efficacy_success", "paraphrase_success", "neighborhood_success",
                                              "score"))
    assert all(-1.0 <= cf[k] <= 1.0 for k in ("efficacy_magnitude", "paraphrase_magnitude",
                                               "neighborhood_magnitude"))
    assert cf["fluency"] > 0 and cf["fluency_base"] > 0
    assert "mquake" not in res


def test_rome_format_keeps_generation_prompts():
    from seqedit.data.normalize import normalize_record

    rome = {"case_id": 1, "requested_rewrite": {"prompt": "{} plays the", "subject": "Toko",
                                                "target_new": {"str": "piano"}, "target_true": {"str": "guitar"}},
            "paraphrase_prompts": [], "neighborhood_prompts": [], "generation_prompts": ["Toko is", "Toko likes"]}
    assert normalize_record(rome, "counterfact", 0)["generation_prompts"] == ["Toko is", "Toko likes"]
    no_gen = dict(rome)
    del no_gen["generation_prompts"]
    assert "generation_prompts" not in normalize_record(no_gen, "counterfact", 0)


@pytest.mark.parametrize("evaluation,needle", [
    ({"protocol": "current"}, "'current'"),
    ({"fluency": {"n_prompts": -1}}, "n_prompts"),
    ({"protocol": "immediate", "immediate_during_edit": False}, "evaluation.immediate_during_edit"),
])
def test_bad_evaluation_config_stops_the_workflow(tmp_path, evaluation, needle):
    import subprocess
    import sys

    import yaml

    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    cfg = yaml.safe_load((root / "config.yaml").read_text())
    cfg["evaluation"] = evaluation
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--quiet", "--configfile", str(path), "-d",
                          str(tmp_path), "-s", str(root / "Snakefile")], capture_output=True, text=True, cwd=root)
    assert res.returncode != 0
    assert needle in res.stderr + res.stdout
