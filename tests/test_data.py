"""Dataset registry, download, normalisation and the covariance-text corpora."""
from __future__ import annotations

import json
import urllib.request

import pytest

from seqedit.data import corpus
from seqedit.data import fetch
from seqedit.data import normalize
from seqedit.data import registry
from seqedit.data.cli import cli
from seqedit.files import read_jsonl

# --------------------------------------------------------------------------- fixtures in each raw format

CF_ROME = [
    {
        "case_id": 7,
        "pararel_idx": 1,
        "requested_rewrite": {
            "prompt": "{}, who has a citizenship from",
            "relation_id": "P27",
            "target_new": {"str": "Singapore", "id": "Q334"},
            "target_true": {"str": "Switzerland", "id": "Q39"},
            "subject": "Luigi Snozzi",
        },
        "paraphrase_prompts": ["Intro text. Luigi Snozzi, who holds a citizenship from", "Luigi Snozzi holds a citizenship from"],
        "neighborhood_prompts": ["Charles Journet, a citizen of", "Ludwig Hohl is a citizen of"],
        "attribute_prompts": ["Lee Kuan Yew holds a citizenship from"],
        "generation_prompts": ["Luigi Snozzi currently lives in"],
    },
    {
        "case_id": 9,
        "requested_rewrite": {
            "prompt": "The mother tongue of {} is",
            "target_new": {"str": " English"},
            "target_true": {"str": "French"},
            "subject": "Danielle Darrieux",
        },
        "paraphrase_prompts": ["Danielle Darrieux speaks"],
        "neighborhood_prompts": ["Michel Rocard is a native speaker of"],
    },
]

CF_EASYEDIT = [
    {
        "case_id": 0,
        "prompt": "The mother tongue of Danielle Darrieux is",
        "target_new": "English",
        "subject": "Danielle Darrieux",
        "ground_truth": "French",
        "rephrase_prompt": "Where Danielle Darrieux is from, people speak the language of",
        "locality_prompt": "Michel Rocard is a native speaker of",
        "locality_ground_truth": "French",
    },
    {
        "case_id": 2,
        "prompt": "Toko Yasuda, the",
        "target_new": "piano",
        "subject": "Toko Yasuda",
        "ground_truth": "guitar",
        "rephrase_prompt": "Toko Yasuda plays the",
        "locality_prompt": "Jeff Beck, performing on the",
        "locality_ground_truth": "guitar",
    },
]

ZSRE = [
    {
        "subject": "Watts Humphrey",
        "src": "What university did Watts Humphrey attend?",
        "pred": "Trinity College",
        "rephrase": "What university did Watts Humphrey take part in?",
        "alt": "University of Michigan",
        "answers": ["Illinois Institute of Technology"],
        "loc": "nq question: who played desmond doss father in hacksaw ridge",
        "loc_ans": "Hugo Weaving",
        "cond": "Trinity College >> University of Michigan || What university did Watts Humphrey attend?",
    },
    {
        "subject": "Ramalinaceae",
        "src": "Which family does Ramalinaceae belong to?",
        "rephrase": "What family are Ramalinaceae?",
        "alt": "",  # empty target: skipped, as EasyEdit's ZsreDataset does
        "answers": ["Lecanorales"],
        "loc": "nq question: types of skiing in the winter olympics 2018",
        "loc_ans": "Downhill",
    },
    {
        "subject": "Iron Man",
        "src": "Which company published Iron Man?",
        "rephrase": "Who published Iron Man?",
        "alt": " Clairmont-Mayer",
        "answers": ["Marvel Comics", "Marvel"],
        "loc": "nq question: who sings the song i'm coming home",
        "loc_ans": "Diddy",
    },
]

MQUAKE = [
    {
        "case_id": 7417,
        "requested_rewrite": [
            {
                "prompt": "{} was performed by",
                "relation_id": "P175",
                "target_new": {"str": "Madonna", "id": "Q1744"},
                "target_true": {"str": "The Beatles", "id": "Q1299"},
                "subject": "Hey Jude",
                "question": "Who performed Hey Jude?",
            },
            {
                "prompt": "The director of {} is",
                "target_new": {"str": "Narendra Modi"},
                "target_true": {"str": "Guy Oseary"},
                "subject": "Madonna",
                "question": "Who is the director of Madonna?",
            },
        ],
        "questions": ["Who directs the performer of \"Hey Jude\"?", "Who manages the singer of Hey Jude?"],
        "answer": "Brian Epstein",
        "answer_alias": ["Brian Samuel Epstein"],
        "new_answer": "Narendra Modi",
        "new_answer_alias": ["Modi", "NaMo"],
        "single_hops": [{"question": "Who performed Hey Jude?", "cloze": "Hey Jude was performed by", "answer": "The Beatles"}],
        "new_single_hops": [
            {"question": "Who performed Hey Jude?", "cloze": "Hey Jude was performed by", "answer": "Madonna", "answer_alias": []},
            {"question": "Who is the director of Madonna?", "cloze": "The director of Madonna is", "answer": "Narendra Modi"},
        ],
    },
    {  # no new_single_hops: built from the rewrites
        "case_id": 8000,
        "requested_rewrite": [
            {
                "prompt": "{} is a citizen of",
                "target_new": {"str": "Australia"},
                "target_true": {"str": "India"},
                "subject": "Narendra Modi",
                "question": "What is the country of citizenship of Narendra Modi?",
            }
        ],
        "questions": ["Where is Narendra Modi a citizen?"],
        "new_answer": "Australia",
        "new_answer_alias": [],
    },
]


def _write(tmp_path, name, obj):
    p = tmp_path / name
    p.write_text(json.dumps(obj), encoding="utf-8")
    return p


def _prepare(tmp_path, dataset, records, n, fname="raw.json"):
    raw = _write(tmp_path, fname, records)
    out = tmp_path / "out" / f"{dataset}.jsonl"
    cli("prepare-data", ["--dataset", dataset, "--raw", str(raw), "--n", str(n), "--out", str(out)])
    lines = out.read_text(encoding="utf-8").splitlines()
    assert all(line.startswith("{") for line in lines)
    return [json.loads(line) for line in lines]


# --------------------------------------------------------------------------- normalisation


def test_counterfact_rome_format(tmp_path):
    got = _prepare(tmp_path, "counterfact", CF_ROME, 2)
    assert got == [
        {
            "id": "7",
            "dataset": "counterfact",
            "subject": "Luigi Snozzi",
            "prompt": "Luigi Snozzi, who has a citizenship from",
            "target_new": "Singapore",
            "target_true": "Switzerland",
            "paraphrase_prompts": CF_ROME[0]["paraphrase_prompts"],
            "locality_prompts": ["Charles Journet, a citizen of", "Ludwig Hohl is a citizen of"],
            "locality_answers": ["Switzerland", "Switzerland"],
            "generation_prompts": ["Luigi Snozzi currently lives in"],
        },
        {
            "id": "9",
            "dataset": "counterfact",
            "subject": "Danielle Darrieux",
            "prompt": "The mother tongue of Danielle Darrieux is",
            "target_new": "English",  # leading space removed
            "target_true": "French",
            "paraphrase_prompts": ["Danielle Darrieux speaks"],
            "locality_prompts": ["Michel Rocard is a native speaker of"],
            "locality_answers": ["French"],
        },
    ]


def test_counterfact_easyedit_format_first_n(tmp_path):
    got = _prepare(tmp_path, "counterfact", CF_EASYEDIT, 1)
    assert got == [
        {
            "id": "0",
            "dataset": "counterfact",
            "subject": "Danielle Darrieux",
            "prompt": "The mother tongue of Danielle Darrieux is",
            "target_new": "English",
            "target_true": "French",
            "paraphrase_prompts": ["Where Danielle Darrieux is from, people speak the language of"],
            "locality_prompts": ["Michel Rocard is a native speaker of"],
            "locality_answers": ["French"],
        }
    ]


def test_zsre_format_skips_empty_target(tmp_path, capsys):
    got = _prepare(tmp_path, "zsre", ZSRE, 2)
    assert got == [
        {
            "id": "0",
            "dataset": "zsre",
            "subject": "Watts Humphrey",
            "prompt": "What university did Watts Humphrey attend?",
            "target_new": "University of Michigan",
            "target_true": "Illinois Institute of Technology",
            "paraphrase_prompts": ["What university did Watts Humphrey take part in?"],
            "locality_prompts": ["nq question: who played desmond doss father in hacksaw ridge"],
            "locality_answers": ["Hugo Weaving"],
        },
        {
            "id": "2",  # record index: record 1 has an empty target and is skipped
            "dataset": "zsre",
            "subject": "Iron Man",
            "prompt": "Which company published Iron Man?",
            "target_new": "Clairmont-Mayer",
            "target_true": "Marvel Comics",
            "paraphrase_prompts": ["Who published Iron Man?"],
            "locality_prompts": ["nq question: who sings the song i'm coming home"],
            "locality_answers": ["Diddy"],
        },
    ]
    assert "skipped 1 unusable records [1]" in capsys.readouterr().err


def test_mquake_format(tmp_path):
    got = _prepare(tmp_path, "mquake", MQUAKE, 2)
    assert got[0] == {
        "id": "7417",
        "dataset": "mquake",
        "subject": "Hey Jude",
        "prompt": "Hey Jude was performed by",
        "target_new": "Madonna",
        "target_true": "The Beatles",
        "paraphrase_prompts": [],
        "locality_prompts": [],
        "locality_answers": [],
        "requested_rewrites": [
            {"subject": "Hey Jude", "prompt": "Hey Jude was performed by", "target_new": "Madonna", "target_true": "The Beatles"},
            {"subject": "Madonna", "prompt": "The director of Madonna is", "target_new": "Narendra Modi", "target_true": "Guy Oseary"},
        ],
        "questions": MQUAKE[0]["questions"],
        "new_answer": "Narendra Modi",
        "new_answer_aliases": ["Modi", "NaMo"],
        "answer": "Brian Epstein",
        "answer_aliases": ["Brian Samuel Epstein"],
        "single_hops": [
            {"question": "Who performed Hey Jude?", "cloze": "Hey Jude was performed by", "answer": "Madonna",
             "answer_aliases": []},
            {"question": "Who is the director of Madonna?", "cloze": "The director of Madonna is", "answer": "Narendra Modi",
             "answer_aliases": []},
        ],
    }
    assert got[1]["id"] == "8000"
    assert got[1]["prompt"] == "Narendra Modi is a citizen of"
    assert got[1]["single_hops"] == [
        {
            "question": "What is the country of citizenship of Narendra Modi?",
            "cloze": "Narendra Modi is a citizen of",
            "answer": "Australia",
            "answer_aliases": [],
        }
    ]
    assert (got[1]["answer"], got[1]["answer_aliases"]) == (None, [])  # no pre-edit answer in that record


def test_jsonl_raw_input(tmp_path):
    raw = tmp_path / "raw.jsonl"
    raw.write_text("\n".join(json.dumps(r) for r in CF_EASYEDIT) + "\n", encoding="utf-8")
    reqs = normalize.prepare_dataset("counterfact", raw, 2, tmp_path / "o.jsonl")
    assert [r["id"] for r in reqs] == ["0", "2"]
    assert read_jsonl(tmp_path / "o.jsonl") == reqs


@pytest.mark.parametrize(
    "dataset, records, index, field",
    [
        ("zsre", [ZSRE[0], {k: v for k, v in ZSRE[2].items() if k != "loc_ans"}], 1, "loc_ans"),
        ("zsre", [ZSRE[0], dict(ZSRE[2], subject="Spider-Man")], 1, "subject"),
        ("zsre", [dict(ZSRE[0], answers="Illinois")], 0, "answers"),
        ("counterfact", [CF_EASYEDIT[0], dict(CF_EASYEDIT[1], target_new=3)], 1, "target_new"),
        (
            "counterfact",
            [dict(CF_ROME[0], requested_rewrite=dict(CF_ROME[0]["requested_rewrite"], prompt="who lives in"))],
            0,
            "requested_rewrite.prompt",
        ),
        ("counterfact", [CF_ROME[0], dict(CF_ROME[1], neighborhood_prompts=["ok", 5])], 1, "neighborhood_prompts[1]"),
        ("mquake", [dict(MQUAKE[0], requested_rewrite=[{"prompt": "{} x"}])], 0, "requested_rewrite[0].subject"),
        ("counterfact", [{"foo": 1}], 0, "<record>"),
        ("counterfact", [ZSRE[0]], 0, "<record>"),  # a zsRE record is not CounterFact
    ],
)
def test_malformed_record_names_file_index_field(tmp_path, dataset, records, index, field):
    raw = _write(tmp_path, "bad.json", records)
    with pytest.raises(ValueError) as ei:
        normalize.prepare_dataset(dataset, raw, len(records), tmp_path / "o.jsonl")
    msg = str(ei.value)
    assert str(raw) in msg
    assert f"record {index}:" in msg
    assert repr(field) in msg
    assert isinstance(ei.value, normalize.RecordError) and ei.value.field == field and ei.value.index == index
    assert not (tmp_path / "o.jsonl").exists()


def test_n_too_large(tmp_path):
    raw = _write(tmp_path, "cf.json", CF_EASYEDIT)
    with pytest.raises(ValueError, match=r"cf\.json: asked for 5 records .* has 2 records and only 2 usable"):
        normalize.prepare_dataset("counterfact", raw, 5, tmp_path / "o.jsonl")
    raw = _write(tmp_path, "z.json", ZSRE)
    with pytest.raises(ValueError, match=r"has 3 records and only 2 usable \(1 skipped"):
        normalize.prepare_dataset("zsre", raw, 3, tmp_path / "o.jsonl")


def test_duplicate_ids(tmp_path):
    raw = _write(tmp_path, "cf.json", [CF_EASYEDIT[0], CF_EASYEDIT[0]])
    with pytest.raises(ValueError, match=r"record 1: field 'id': duplicate id '0'"):
        normalize.prepare_dataset("counterfact", raw, 2, tmp_path / "o.jsonl")


def test_unknown_dataset(tmp_path):
    with pytest.raises(KeyError) as ei:
        registry.get_dataset_spec("wikidata")
    assert "unknown dataset 'wikidata'" in str(ei.value) and "counterfact, counterfact_easyedit, mqd_dg, mqd_mc, mqd_tf, mquake, mquake_v2, zsre, zsre_mend_train" in str(ei.value)
    with pytest.raises(SystemExit, match="unknown dataset 'wikidata'; known datasets: counterfact, counterfact_easyedit, mqd_dg, mqd_mc, mqd_tf, mquake, mquake_v2, zsre, zsre_mend_train"):
        cli("prepare-data", ["--dataset", "wikidata", "--raw", "x.json", "--n", "1", "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit, match="unknown dataset 'wikidata'"):
        cli("download-data", ["--dataset", "wikidata", "--out", str(tmp_path / "o.json")])
    with pytest.raises(SystemExit, match="unknown corpus 'c4'; known corpora: .*wikitext2-test"):
        cli("corpus", ["--name", "c4", "--out", str(tmp_path / "c.jsonl")])


def test_registry_entries():
    assert set(registry.DATASETS) == {"counterfact", "counterfact_easyedit", "zsre", "zsre_mend_train", "mquake",
                                      "mquake_v2",
                               "mqd_tf", "mqd_mc", "mqd_dg"}
    assert registry.DATASETS["counterfact"].urls[0] == "https://rome.baulab.info/data/dsets/counterfact.json"
    assert registry.DATASETS["zsre"].urls[0] == "https://rome.baulab.info/data/dsets/zsre_mem_eval.json"
    pinned = f"princeton-nlp/MQuAKE/{registry.MQUAKE_COMMIT}"  # a commit, not the moving `main`
    assert registry.DATASETS["mquake"].urls[0].endswith(f"{pinned}/datasets/MQuAKE-CF-3k.json")
    assert registry.DATASETS["mquake_v2"].urls[0].endswith(f"{pinned}/datasets/MQuAKE-CF-3k-v2.json")
    assert "counterfact/counterfact_edit_easyedit_first2000.json" in registry.DATASETS["counterfact"].mirror_files
    # the authors' files: EasyEdit's zsRE train split and counterfact-edit, from EasyEdit's data archive
    for name, member in [("zsre_mend_train", "zsre_mend_train_10000.json"),
                         ("counterfact_easyedit", "counterfact-edit.json")]:
        spec = registry.DATASETS[name]
        assert spec.archive_member == member and spec.urls == (registry.EASYEDIT_DATA_ZIP,)
        assert "1WRo2SqqgNtZF11Vq0sF5nL_-bHi18Wi4" in spec.urls[0]
    assert registry.DATASETS["zsre_mend_train"].mirror_files == ("zsre_mend_train_10000.json",
                                                          "zsre/zsre_mend_train_10000.json")
    assert registry.DATASETS["counterfact_easyedit"].formats == (registry.COUNTERFACT_EASYEDIT,)
    assert {"wikitext2-test", "wikitext2-train-excerpt", "wikitext103-train", "wikipedia-20231101en"} <= set(registry.CORPORA)


# --------------------------------------------------------------------------- download


def _no_network(monkeypatch):
    def fail(*a, **k):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", fail)


def test_download_from_fake_mirror(tmp_path, monkeypatch):
    _no_network(monkeypatch)
    mirror = tmp_path / "mirror"
    (mirror / "zsre").mkdir(parents=True)
    (mirror / "zsre" / "zsre_mem_eval_first1000.json").write_text(json.dumps(ZSRE), encoding="utf-8")
    # the canonical name at the mirror root wins over the sample in the subfolder
    (mirror / "mquake").mkdir()
    (mirror / "mquake" / "MQuAKE-hard_all429.json").write_text("[]", encoding="utf-8")
    (mirror / "MQuAKE-CF-3k.json").write_text(json.dumps(MQUAKE), encoding="utf-8")

    out = tmp_path / "resources" / "data" / "zsre.json"
    cli("download-data", ["--dataset", "zsre", "--out", str(out), "--mirror", str(mirror)])
    assert json.loads(out.read_text()) == ZSRE
    prov = json.loads((out.parent / "zsre.source.json").read_text())
    assert prov["source"].endswith("zsre/zsre_mem_eval_first1000.json") and prov["sha256"] == fetch.sha256_file(out)

    out2 = tmp_path / "resources" / "data" / "mquake.json"
    fetch.download_dataset("mquake", out2, mirror)
    assert json.loads(out2.read_text()) == MQUAKE
    assert list(out.parent.glob(".*")) == []  # no temporary files left behind


def test_download_nothing_works_lists_tries(tmp_path, monkeypatch):
    _no_network(monkeypatch)
    out = tmp_path / "counterfact.json"
    with pytest.raises(fetch.DownloadError) as ei:
        fetch.download_dataset("counterfact", out, tmp_path / "empty-mirror", timeout=1)
    msg = str(ei.value)
    for rel in registry.DATASETS["counterfact"].mirror_files:
        assert rel in msg
    assert "https://rome.baulab.info/data/dsets/counterfact.json (OSError: network disabled in tests)" in msg
    assert not out.exists()


def test_download_url_path(tmp_path, monkeypatch):
    import io

    calls = []

    class Resp(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    def fake_urlopen(req, timeout):
        calls.append((req.full_url, timeout))
        if "rome." in req.full_url:
            raise OSError("down")
        return Resp(json.dumps(ZSRE).encode())

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    out = tmp_path / "zsre.json"
    rec = fetch.download_dataset("zsre", out, timeout=3)
    assert [u for u, _ in calls] == list(registry.DATASETS["zsre"].urls) and calls[0][1] == 3
    assert rec["source"] == registry.DATASETS["zsre"].urls[1] and json.loads(out.read_text()) == ZSRE


def test_download_takes_the_member_of_a_zip_archive(tmp_path, monkeypatch):
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("data/zsre/zsre_mend_eval.json", json.dumps([ZSRE[0]]))
        zf.writestr("data/zsre/zsre_mend_train_10000.json", json.dumps(ZSRE))

    class Resp(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    monkeypatch.setattr(urllib.request, "urlopen", lambda req, timeout: Resp(buf.getvalue()))
    out = tmp_path / "zsre_mend_train.json"
    rec = fetch.download_dataset("zsre_mend_train", out, tmp_path / "empty-mirror")
    assert json.loads(out.read_text()) == ZSRE and rec["source"] == registry.EASYEDIT_DATA_ZIP
    normalize.prepare_dataset("zsre_mend_train", out, 1, tmp_path / "z.jsonl")


# --------------------------------------------------------------------------- corpora

WIKI = (
    " = Robert Boulter = \r\n"
    " Robert Boulter is an English actor . \r\n"
    " = = Career = = \r\n"
    " \r\n"
    " He had a guest role in 2000 . \r\n"
    " = = = 2000 – 2005 = = = \r\n"
    " Later work . \r\n"
    " = Du Fu = \r\n"
    " Du Fu was a poet . \r\n"
    " = = Life = = \r\n"
    " = Kiss You ( One Direction song ) = \r\n"
    " A song . \r\n"
)


def test_split_wikitext_articles():
    docs = list(corpus.split_wikitext_articles(WIKI.splitlines()))
    assert len(docs) == 3
    assert docs[0] == (
        "= Robert Boulter =\nRobert Boulter is an English actor .\n= = Career = =\n"
        "He had a guest role in 2000 .\n= = = 2000 – 2005 = = =\nLater work ."
    )
    assert docs[1] == "= Du Fu =\nDu Fu was a poet .\n= = Life = ="
    assert docs[2].startswith("= Kiss You ( One Direction song ) =")
    # rows as Hugging Face gives them (one line per row, blank rows) give the same documents
    rows = []
    for line in WIKI.replace("\r\n", "\n").splitlines():
        rows += [line + "\n", ""]
    assert list(corpus.split_wikitext_articles(corpus._lines_from_rows(rows))) == docs
    # text before the first heading is its own document
    assert list(corpus.split_wikitext_articles(["intro", " = A = ", "body"])) == ["intro", "= A =\nbody"]
    assert corpus.is_top_heading(" = Title = ") and not corpus.is_top_heading(" = = Sub = = ")


def test_split_paragraphs():
    assert list(corpus.split_paragraphs([" First para . \n", "\n", " Second . \n", "", " Third .\n"])) == [
        "First para .",
        "Second .",
        "Third .",
    ]


def _fake_corpus_mirror(tmp_path, monkeypatch, text):
    import hashlib

    mirror = tmp_path / "mirror"
    (mirror / "wikitext").mkdir(parents=True)
    raw = mirror / "wikitext" / "wiki.raw"
    raw.write_bytes(text.encode("utf-8"))
    spec = registry.CORPORA["wikitext2-test"]
    pinned = registry.CorpusSpec(
        name=spec.name,
        split=spec.split,
        mirror=registry.MirrorFile("wikitext/wiki.raw", hashlib.sha256(raw.read_bytes()).hexdigest()[:16]),
        hf=spec.hf,
    )
    monkeypatch.setitem(registry.CORPORA, spec.name, pinned)
    return mirror


def test_corpus_cli_from_mirror(tmp_path, monkeypatch):
    mirror = _fake_corpus_mirror(tmp_path, monkeypatch, WIKI)
    out = tmp_path / "resources" / "corpus" / "wikitext2-test.jsonl"
    cli("corpus", ["--name", "wikitext2-test", "--out", str(out), "--mirror", str(mirror)])
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 3 and all(set(r) == {"text"} for r in rows)
    assert rows[1]["text"] == "= Du Fu =\nDu Fu was a poet .\n= = Life = ="
    out2 = tmp_path / "two.jsonl"
    info = corpus.build_corpus("wikitext2-test", out2, mirror, max_docs=2)
    assert info["documents"] == 2 and corpus.read_corpus(out2) == [r["text"] for r in rows[:2]]


def test_corpus_mirror_checksum_mismatch(tmp_path, monkeypatch):
    mirror = _fake_corpus_mirror(tmp_path, monkeypatch, WIKI)
    (mirror / "wikitext" / "wiki.raw").write_text(WIKI + " = Another = \r\n", encoding="utf-8")
    with pytest.raises(corpus.CorpusUnavailable, match="different corpus name"):
        corpus.build_corpus("wikitext2-test", tmp_path / "c.jsonl", mirror)


def test_corpus_without_offline_source(tmp_path, monkeypatch):
    with pytest.raises(corpus.CorpusUnavailable, match=r"wikitext2-train-excerpt.*\n.*no --mirror given.*\n.*no online source"):
        corpus.build_corpus("wikitext2-train-excerpt", tmp_path / "c.jsonl")

    import datasets

    def offline(*a, **k):
        raise ConnectionError("Couldn't reach the Hub (offline)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(corpus.CorpusUnavailable, match=r"wikipedia-20231101en.*'wikimedia/wikipedia'.*'20231101.en'.*offline"):
        corpus.build_corpus("wikipedia-20231101en", tmp_path / "c.jsonl", max_docs=10)
    assert not (tmp_path / "c.jsonl").exists()


def test_corpus_from_hf_rows(tmp_path, monkeypatch):
    import datasets

    rows = [{"text": " = A = \n"}, {"text": ""}, {"text": " a body . \n"}, {"text": " = B = \n"}, {"text": " b . \n"}]
    seen = {}

    def fake_load(path, config, split, streaming):
        seen.update(path=path, config=config, split=split, streaming=streaming)
        return iter(rows)

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    info = corpus.build_corpus("wikitext103-train", tmp_path / "c.jsonl")
    assert seen == {"path": "Salesforce/wikitext", "config": "wikitext-103-raw-v1", "split": "train", "streaming": False}
    assert info["documents"] == 2 and corpus.read_corpus(tmp_path / "c.jsonl") == ["= A =\na body .", "= B =\nb ."]
    wiki = [{"text": "Anarchism is ..."}, {"text": "Albedo is ..."}, {"text": "A is ..."}]
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: iter(wiki))
    corpus.build_corpus("wikipedia-20231101en", tmp_path / "w.jsonl", max_docs=2)
    assert corpus.read_corpus(tmp_path / "w.jsonl") == ["Anarchism is ...", "Albedo is ..."]


# --------------------------------------------------------------------------- the real data mirror


def test_real_mirror(tmp_path, data_mirror):
    reqs = {}
    for name, n in [("counterfact", 30), ("zsre", 30), ("mquake", 5)]:
        raw = tmp_path / f"{name}.json"
        fetch.download_dataset(name, raw, data_mirror, allow_download=False)
        reqs[name] = normalize.prepare_dataset(name, raw, n, tmp_path / f"{name}.jsonl")
        assert len(reqs[name]) == n
        for r in reqs[name]:
            assert r["subject"] and r["subject"] in r["prompt"]
            assert r["target_new"] and not r["target_new"].startswith(" ")
            assert len(r["locality_prompts"]) == len(r["locality_answers"])
            assert set(r) >= set(normalize.BASE_FIELDS)
        assert len({r["id"] for r in reqs[name]}) == n
    z0 = reqs["zsre"][0]
    assert z0["subject"] == "Watts Humphrey" and z0["target_new"] == "University of Michigan"
    assert z0["target_true"] == "Illinois Institute of Technology"
    assert z0["locality_prompts"][0].startswith("nq question: ")
    c0 = reqs["counterfact"][0]
    assert (c0["id"], c0["subject"], c0["target_new"], c0["target_true"]) == ("0", "Danielle Darrieux", "English", "French")
    m0 = reqs["mquake"][0]
    assert m0["id"] == "7417" and len(m0["requested_rewrites"]) == 4 and m0["new_answer"] == "Arabic"
    assert all(rw["subject"] in rw["prompt"] for m in reqs["mquake"] for rw in m["requested_rewrites"])
    assert [h["answer"] for h in m0["single_hops"]][-1] == "Arabic"


def test_real_mirror_corpora(tmp_path, data_mirror):
    info = corpus.build_corpus("wikitext2-test", tmp_path / "w2.jsonl", data_mirror)
    docs = corpus.read_corpus(tmp_path / "w2.jsonl")
    assert info["documents"] == len(docs) == 62
    assert docs[0].startswith("= Robert Boulter =\nRobert Boulter is an English film")
    assert all(corpus.is_top_heading(d.split("\n", 1)[0]) for d in docs)
    corpus.build_corpus("wikitext2-train-excerpt", tmp_path / "t.jsonl", data_mirror, max_docs=5)
    t = corpus.read_corpus(tmp_path / "t.jsonl")
    assert len(t) == 5 and t[0].startswith("Senjō no Valkyria 3")
