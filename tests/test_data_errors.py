"""A raw data file that is not valid JSON, not UTF-8 or empty is an error naming the file (not a bare decode error)."""
from __future__ import annotations

import pytest

from seqedit.data.normalize import load_records


@pytest.mark.parametrize("content,needle", [
    (b'[{"src": "a"},\n {"src": }]', "line 2, column 10: not valid JSON"),
    (b'{"src": "a"}\n{"src": \n', "line 2: not JSON"),
    (b'[{"src": "caf\xe9"}]', "not UTF-8 text"),
    (b"", "the file is empty"),
    (b"  \n\n", "the file is empty"),
    (b"[]", "holds no records"),
])
def test_a_bad_data_file_is_an_error_naming_it(tmp_path, content, needle):
    path = tmp_path / "zsre.json"
    path.write_bytes(content)
    with pytest.raises(ValueError) as err:
        load_records(path)
    assert str(err.value).startswith(f"{path}: ") and needle in str(err.value)


def test_a_good_data_file_loads(tmp_path):
    path = tmp_path / "zsre.json"
    path.write_text('[{"src": "a"}, {"src": "b"}]')
    assert load_records(path) == [{"src": "a"}, {"src": "b"}]


GOOD_ZSRE = {"subject": "Paris", "src": "Where is Paris?", "rephrase": "Paris is in which country?", "alt": "Italy",
             "answers": ["France"], "loc": "nq question: who wrote hamlet", "loc_ans": "Shakespeare"}


def _prepare(tmp_path, capsys, dataset, records):
    """The prepare-data command on ``records``: (its summary line, the prepared requests)."""
    import json

    from seqedit.data.cli import cli
    from seqedit.files import read_jsonl

    raw, out = tmp_path / f"{dataset}.json", tmp_path / f"{dataset}.jsonl"
    raw.write_text(json.dumps(records))
    cli("prepare-data", ["--dataset", dataset, "--raw", str(raw), "--out", str(out)])
    captured = capsys.readouterr()
    return json.loads(captured.out.strip().splitlines()[-1]), read_jsonl(out), captured.err


def test_unusable_records_are_skipped_with_their_id_and_reason_in_the_summary(tmp_path, capsys):
    """Before, an empty true answer, paraphrase or locality prompt was accepted silently and only an empty target
    was skipped, with a log line of indices; now every unusable record is skipped and the prepare-data summary (the
    job's log) counts them and lists each one's index, id and reason."""
    records = [GOOD_ZSRE, {**GOOD_ZSRE, "rephrase": " "}, {**GOOD_ZSRE, "answers": [""]}, {**GOOD_ZSRE, "alt": ""},
               {**GOOD_ZSRE, "loc": ""}, {**GOOD_ZSRE, "loc_ans": "  "}, GOOD_ZSRE]
    summary, requests, err = _prepare(tmp_path, capsys, "zsre", records)
    assert summary["requests"] == 2 and summary["skipped"] == 5
    assert summary["skipped_records"] == [
        {"record": 1, "id": "1", "reason": "empty paraphrase prompt"},
        {"record": 2, "id": "2", "reason": "empty target_true"},
        {"record": 3, "id": "3", "reason": "empty target_new"},
        {"record": 4, "id": "4", "reason": "empty locality prompt"},
        {"record": 5, "id": "5", "reason": "empty locality answer"},
    ]
    assert [r["id"] for r in requests] == ["0", "6"]  # a skipped record shifts no id
    assert "skipped 5 unusable records [1, 2, 3, 4, 5]" in err


def test_a_counterfact_request_without_paraphrase_or_neighbourhood_prompts_is_skipped(tmp_path, capsys):
    """ROME's CounterFact format: an empty list gave a request with no Par or Spe at all, silently."""
    good = {"case_id": 7, "requested_rewrite": {"prompt": "{} is located in", "subject": "Paris",
                                                 "target_new": {"str": "Italy"}, "target_true": {"str": "France"}},
            "paraphrase_prompts": ["Where is Paris? Paris is in"], "neighborhood_prompts": ["Lyon is in"]}
    records = [good, {**good, "case_id": 8, "paraphrase_prompts": []},
               {**good, "case_id": 9, "neighborhood_prompts": []}]
    summary, requests, _ = _prepare(tmp_path, capsys, "counterfact", records)
    assert [r["id"] for r in requests] == ["7"]
    assert summary["skipped_records"] == [{"record": 1, "id": "8", "reason": "no paraphrase prompt"},
                                          {"record": 2, "id": "9", "reason": "no locality prompt"}]


def test_a_zsre_record_without_answers_is_refused_naming_file_and_record(tmp_path):
    from seqedit.data.normalize import prepare_dataset

    raw = tmp_path / "zsre.json"
    raw.write_text(__import__("json").dumps([GOOD_ZSRE, {**GOOD_ZSRE, "answers": []}]))
    with pytest.raises(ValueError, match=rf"^{raw}: record 1: field 'answers': empty list$"):
        prepare_dataset("zsre", raw, None, tmp_path / "z.jsonl")


def test_a_mquake_case_without_questions_or_new_answer_is_skipped(tmp_path, capsys):
    from test_data import MQUAKE

    case = MQUAKE[0]
    records = [{**case, "case_id": 1}, {**case, "case_id": 2, "questions": []},
               {**case, "case_id": 3, "questions": [" "]}, {**case, "case_id": 4, "new_answer": ""}]
    summary, requests, _ = _prepare(tmp_path, capsys, "mquake", records)
    assert [r["id"] for r in requests] == ["1"]
    assert [(r["id"], r["reason"]) for r in summary["skipped_records"]] == [
        ("2", "no multi-hop question"), ("3", "empty multi-hop question"), ("4", "empty new_answer")]
