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


def test_unusable_records_are_skipped_with_their_reason_in_the_summary(tmp_path, capsys):
    """Before, an empty true answer or paraphrase was accepted silently and only an empty target was skipped, with a
    log line; now every unusable record is skipped and the prepare-data summary lists each with its reason."""
    import json

    from seqedit.data.cli import cli

    good = {"subject": "Paris", "src": "Where is Paris?", "rephrase": "Paris is in which country?", "alt": "Italy",
            "answers": ["France"], "loc": "nq question: who wrote hamlet", "loc_ans": "Shakespeare"}
    records = [good, {**good, "rephrase": " "}, {**good, "answers": [""]}, {**good, "alt": ""}, good]
    raw = tmp_path / "zsre.json"
    raw.write_text(json.dumps(records))
    cli("prepare-data", ["--dataset", "zsre", "--raw", str(raw), "--out", str(tmp_path / "z.jsonl")])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["requests"] == 2 and summary["skipped"] == 3
    assert summary["skipped_records"] == {"1": "empty paraphrase prompt", "2": "empty target_true",
                                          "3": "empty target_new"}
