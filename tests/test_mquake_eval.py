"""MQuAKE's evaluation as princeton-nlp/MQuAKE does it, on a tiny MQuAKE-format file written here (3 cases with
aliases) and the scripted word-level model of test_eval_metrics: single-hop aliases (the old code compared the hop's
answer only), MQuAKE's case-sensitive exact match, the pre-edit check, and the prompt file (fetched as data, its
sha256 checked, its source recorded in every result; the hand-made fallback only when allowed, and labelled)."""
from __future__ import annotations

import json

import pytest

from test_eval_metrics import TableLM, WordTok

from seqedit.data import normalize, registry
from seqedit.data.fetch import DownloadError
from seqedit.data.prompt_files import download_prompt
from seqedit.evaluation import mquake

RAW = [
    {"case_id": 1, "requested_rewrite": [
        {"prompt": "{} was performed by", "subject": "Hey Jude", "target_new": {"str": "Madonna"},
         "target_true": {"str": "The Beatles"}, "question": "Who performed Hey Jude?"}],
     "questions": ["Who sang Hey Jude?", "Hey Jude is by whom?"],
     "answer": "The Beatles", "answer_alias": ["Beatles", "Fab Four"],
     "new_answer": "Madonna", "new_answer_alias": ["Madonna Ciccone"],
     "single_hops": [{"question": "Who performed Hey Jude?", "cloze": "Hey Jude was performed by",
                      "answer": "The Beatles", "answer_alias": ["Beatles"]}],
     "new_single_hops": [{"question": "Who performed Hey Jude?", "cloze": "Hey Jude was performed by",
                          "answer": "Madonna", "answer_alias": ["Madonna Ciccone", "Queen of Pop"]}]},
    {"case_id": 2, "requested_rewrite": [
        {"prompt": "The official language of {} is", "subject": "Australia", "target_new": {"str": "Arabic"},
         "target_true": {"str": "English"}, "question": "What is the official language of Australia?"}],
     "questions": ["Which language is official in Australia?"],
     "answer": "English", "answer_alias": ["English language"],
     "new_answer": "Arabic", "new_answer_alias": ["Arabic language", "ar"],
     "single_hops": [{"question": "What is the official language of Australia?",
                      "cloze": "The official language of Australia is", "answer": "English", "answer_alias": []}],
     "new_single_hops": [{"question": "What is the official language of Australia?",
                          "cloze": "The official language of Australia is", "answer": "Arabic",
                          "answer_alias": ["Arabic language"]}]},
    {"case_id": 3, "requested_rewrite": [
        {"prompt": "{} is a citizen of", "subject": "Narendra Modi", "target_new": {"str": "Australia"},
         "target_true": {"str": "India"}, "question": "Where is Narendra Modi a citizen?"}],
     "questions": ["Of which country is Narendra Modi a citizen?"],
     "answer": "India", "answer_alias": ["Bharat"],
     "new_answer": "Australia", "new_answer_alias": ["Commonwealth of Australia"],
     "new_single_hops": [{"question": "Where is Narendra Modi a citizen?", "cloze": "Narendra Modi is a citizen of",
                          "answer": "Australia", "answer_alias": ["Commonwealth of Australia"]}]},
]
EXAMPLES = "Q: Who wrote Hamlet? A: William Shakespeare\nQ: Where is the Eiffel Tower? A: Paris"


@pytest.fixture
def requests(tmp_path):
    raw = tmp_path / "mquake_tiny.json"
    raw.write_text(json.dumps(RAW))
    return normalize.normalize_records(normalize.load_records(raw), "mquake", None, raw)


@pytest.fixture
def prompt_spec(monkeypatch):
    """A registry prompt file of our own (its sha256 known), so no MQuAKE file is needed or committed."""
    import hashlib

    spec = registry.PromptSpec("mquake_multihop", ("http://127.0.0.1:9/absent.txt",), ("mquake/tiny-prompts.txt",),
                               hashlib.sha256(EXAMPLES.encode()).hexdigest(), "test examples")
    monkeypatch.setitem(registry.PROMPTS, "mquake_multihop", spec)
    return spec


def _script_edited(model: TableLM, prompt: mquake.MultihopPrompt) -> None:
    model.script(prompt.query("Who sang Hey Jude?"), "The Beatles")  # wrong ...
    model.script(prompt.query("Hey Jude is by whom?"), "Madonna Ciccone")  # ... but an alias of the new answer
    model.script(prompt.query("Which language is official in Australia?"), "arabic")  # MQuAKE: case-sensitive
    model.script(prompt.query("Of which country is Narendra Modi a citizen?"), "Australia")
    model.script("Hey Jude was performed by", "Queen of Pop , the singer")  # an alias of the hop's answer
    model.script("The official language of Australia is", "English")  # wrong
    model.script("Narendra Modi is a citizen of", "Commonwealth of Australia")  # an alias of the hop's answer


def test_normalisation_keeps_the_aliases_and_the_answer_before_editing(requests):
    assert requests[0]["single_hops"][0]["answer_aliases"] == ["Madonna Ciccone", "Queen of Pop"]
    assert (requests[0]["answer"], requests[0]["answer_aliases"]) == ("The Beatles", ["Beatles", "Fab Four"])
    assert mquake.edited_hops(requests[1]) == [("The official language of Australia is", ["Arabic", "Arabic language"])]


def test_single_hop_aliases_count_and_multi_hop_follows_mquake(requests):
    model, tok = TableLM(WordTok()), None
    tok = model.tok
    prompt = mquake.handmade_prompt(2)
    _script_edited(model, prompt)
    block, per_case = mquake.mquake_metrics(model, tok, requests, prompt, "exact", max_new_tokens=6)
    # the old code compared each continuation with the hop's answer only (its normalised requests had no aliases):
    # none of the three hops is right that way; with MQuAKE's aliases two are
    answer_only = [mquake.matches(mquake.first_line(c), [r["single_hops"][0]["answer"]], "prefix")
                   for r, c in zip(requests, ["Queen of Pop , the singer", "English", "Commonwealth of Australia"])]
    assert answer_only == [False, False, False]
    assert block["single_hop_accuracy"] == pytest.approx(2 / 3)
    assert [c["multi_hop"] for c in per_case] == [True, False, True]  # case 2: "arabic" != "Arabic" (MQuAKE)
    assert block["multi_hop_accuracy"] == pytest.approx(2 / 3)
    assert (block["n_cases"], block["n_questions"], block["n_hops"]) == (3, 4, 3)
    normalised, _ = mquake.mquake_metrics(model, tok, requests, prompt, "normalised", max_new_tokens=6)
    assert normalised["multi_hop_accuracy"] == 1.0  # our lenient rule, not MQuAKE's


def test_pre_edit_check_on_the_unedited_model(requests):
    model = TableLM(WordTok())
    prompt = mquake.handmade_prompt(0)
    model.script(prompt.query("Who sang Hey Jude?"), "Fab Four")  # an alias of the answer before editing
    model.script(prompt.query("Which language is official in Australia?"), "Arabic")  # not the old answer
    model.script(prompt.query("Of which country is Narendra Modi a citizen?"), "India")
    before = mquake.pre_edit(model, model.tok, requests, prompt, "exact", max_new_tokens=4)
    assert before == [True, False, True]
    no_answer = [dict(r, answer=None, answer_aliases=[]) for r in requests[:1]]
    assert mquake.pre_edit(model, model.tok, no_answer, prompt, "exact", max_new_tokens=4) == [None]
    block, per_case = mquake.mquake_metrics(model, model.tok, requests, prompt, max_new_tokens=4, before=before)
    assert block["multi_hop_accuracy_pre_edit"] == pytest.approx(2 / 3) and block["n_cases_pre_edit"] == 3
    assert [c["multi_hop_pre_edit"] for c in per_case] == before


def test_mquake_prompt_file_is_data_read_verbatim_and_recorded(tmp_path, requests, prompt_spec):
    mirror = tmp_path / "mirror"
    (mirror / "mquake").mkdir(parents=True)
    (mirror / "mquake" / "tiny-prompts.txt").write_text(EXAMPLES)
    out = tmp_path / "resources" / "prompts" / "mquake_multihop.json"
    rec = download_prompt("mquake_multihop", out, mirror, allow_download=False)
    assert rec["available"] and rec["source_kind"] == "mirror" and json.loads(out.read_text())["text"] == EXAMPLES
    prompt = mquake.load_prompt("mquake", out, n_fewshot=4)
    assert prompt.query("Who?") == EXAMPLES + "\nQ: Who? A:"  # MQuAKE's lines, then the question
    assert "MQuAKE's prompts/multihop-prompts.txt" in prompt.label and "2 in-context examples" in prompt.label
    model = TableLM(WordTok())
    _script_edited(model, prompt)
    block, _ = mquake.mquake_metrics(model, model.tok, requests, prompt, max_new_tokens=6)
    assert block["multi_hop_accuracy"] == pytest.approx(2 / 3)  # the scripted answers follow this prompt
    assert block["prompt"] == prompt.label and block["prompt_source"].endswith("tiny-prompts.txt")
    assert block["prompt_sha256"] == prompt_spec.sha256 and block["prompt_fallback"] is False
    assert prompt.label in block["match_rule"]


def test_a_changed_or_missing_prompt_file_fails_unless_the_fallback_is_allowed(tmp_path, prompt_spec):
    mirror = tmp_path / "mirror"
    (mirror / "mquake").mkdir(parents=True)
    (mirror / "mquake" / "tiny-prompts.txt").write_text(EXAMPLES + "\nQ: edited? A: yes")
    out = tmp_path / "p.json"
    with pytest.raises(DownloadError, match=r"(?s)sha256 .*not the registry's.*prompt_fallback: handmade"):
        download_prompt("mquake_multihop", out, mirror, allow_download=False)
    assert not out.exists()
    rec = download_prompt("mquake_multihop", out, mirror, allow_download=False, fallback="handmade")
    assert rec["available"] is False and any("tiny-prompts.txt" in t for t in rec["tried"])
    prompt = mquake.load_prompt("mquake", out, n_fewshot=3)
    assert prompt.fallback and "hand-made 3-shot" in prompt.label and "fallback" in prompt.label
    with pytest.raises(ValueError, match="--mquake-prompt-file"):
        mquake.load_prompt("mquake", None, n_fewshot=3)


def test_download_data_command_writes_the_prompt_record(tmp_path, prompt_spec, capsys):
    from seqedit.data.cli import cli

    (tmp_path / "m" / "mquake").mkdir(parents=True)
    (tmp_path / "m" / "mquake" / "tiny-prompts.txt").write_text(EXAMPLES)
    out = tmp_path / "p.json"
    cli("download-data", ["--prompt", "mquake_multihop", "--mirror", str(tmp_path / "m"), "--no-download",
                          "--out", str(out)])
    assert json.loads(out.read_text())["text"] == EXAMPLES
    assert "text" not in json.loads(capsys.readouterr().out)  # the summary line, without the prompt itself
