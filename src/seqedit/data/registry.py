"""The one registry of editing datasets and of the text corpora used for layer statistics.

Adding a dataset is adding one ``DatasetSpec`` to ``DATASETS``; adding a corpus is one ``CorpusSpec`` in ``CORPORA``.

Corpus names identify their exact content (source, version, split, and how documents are cut): two different
texts must never share a name, because the second-moment statistics are cached under the corpus name. A mirror
file is therefore pinned by its sha256 and refused when it differs.
"""
from __future__ import annotations

from dataclasses import dataclass

# record formats recognised by seqedit.data.normalize.detect_format
COUNTERFACT_ROME = "counterfact-rome"  # requested_rewrite{prompt "{}", subject, target_new{str}, target_true{str}}, ...
COUNTERFACT_EASYEDIT = "counterfact-easyedit"  # prompt, target_new, subject, ground_truth, rephrase_prompt, locality_*
ZSRE_MEND = "zsre-mend"  # subject, src, rephrase, alt, answers, loc, loc_ans (ROME zsre_mem_eval / MEND / EasyEdit)
MQUAKE = "mquake"  # requested_rewrite [..], questions, new_answer, new_answer_alias, new_single_hops

# The CounterFact variant each record format is, named in the tables and captions (Par / Spe / PS / NS are over
# these prompts, so their meaning changes with the variant): seqedit.data.variants finds the format that runs.
VARIANTS = {
    COUNTERFACT_ROME: "ROME's counterfact.json (2 paraphrases, 10 neighbourhood prompts per request)",
    COUNTERFACT_EASYEDIT: "EasyEdit's counterfact-edit (1 rephrase, 1 neighbourhood prompt per request)",
}

# princeton-nlp/MQuAKE at the commit the files are read from: main on 2024-09-12 ("update mquake-cf-3k-v2"), the
# last commit; prompts/ is unchanged since the release commit a4f38bbb (2023-06-08)
MQUAKE_COMMIT = "fb43dadc2d8cd19d08ce81c63d957b59deb3f3cd"
MQUAKE_RAW = f"https://raw.githubusercontent.com/princeton-nlp/MQuAKE/{MQUAKE_COMMIT}"


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    urls: tuple[str, ...]  # canonical download locations, tried in order
    mirror_files: tuple[str, ...]  # paths relative to a data mirror folder, tried in order (full files first)
    formats: tuple[str, ...]  # record formats accepted by prepare-data
    description: str = ""
    # when a URL serves a zip archive: the member to take (matched on its file name, whatever folder holds it)
    archive_member: str | None = None
    # a dataset built by seqedit (``seqedit build-mqd``) from the raw file of this other registry dataset
    built_from: str | None = None
    # record format of the file at ``urls`` (a mirror file's own format is read from it: seqedit.data.variants)
    url_format: str | None = None


# EasyEdit's data archive, linked from its README ("Datasets for Factual Knowledge", Google Drive file
# 1WRo2SqqgNtZF11Vq0sF5nL_-bHi18Wi4): a zip of editing-data/{zsre,counterfact,...}. The usercontent URL with
# confirm=t is Google Drive's direct download of that file (no virus-scan page).
EASYEDIT_DATA_ZIP = ("https://drive.usercontent.google.com/download?id=1WRo2SqqgNtZF11Vq0sF5nL_-bHi18Wi4"
                     "&export=download&confirm=t")


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        DatasetSpec(
            name="counterfact",
            urls=(
                "https://rome.baulab.info/data/dsets/counterfact.json",
                "https://memit.baulab.info/data/dsets/counterfact.json",
            ),
            mirror_files=(
                "counterfact.json",
                "counterfact/counterfact.json",
                "counterfact/counterfact_edit_easyedit_first2000.json",
            ),
            formats=(COUNTERFACT_ROME, COUNTERFACT_EASYEDIT),
            description="CounterFact (Meng et al. 2022); ROME format, or EasyEdit's counterfact-edit split",
            url_format=COUNTERFACT_ROME,
        ),
        DatasetSpec(
            name="zsre",
            urls=(
                "https://rome.baulab.info/data/dsets/zsre_mem_eval.json",
                "https://memit.baulab.info/data/dsets/zsre_mem_eval.json",
            ),
            mirror_files=(
                "zsre_mem_eval.json",
                "zsre/zsre_mem_eval.json",
                "zsre/zsre_mem_eval_first1000.json",
            ),
            formats=(ZSRE_MEND,),
            description="zsRE question answering edits: ROME's zsre_mem_eval.json (MEND's eval split)",
        ),
        DatasetSpec(
            name="zsre_mend_train",
            urls=(EASYEDIT_DATA_ZIP,),
            mirror_files=(
                "zsre_mend_train_10000.json",
                "zsre/zsre_mend_train_10000.json",
            ),
            formats=(ZSRE_MEND,),
            archive_member="zsre_mend_train_10000.json",
            description=(
                "zsRE edits: EasyEdit's zsre_mend_train_10000.json (the first 10,000 records of MEND's zsRE train "
                "split), the file the D4S authors' code edits (its first 2000 records); from EasyEdit's data archive"
            ),
        ),
        DatasetSpec(
            name="counterfact_easyedit",
            urls=(EASYEDIT_DATA_ZIP,),
            mirror_files=(
                "counterfact-edit.json",
                "counterfact/counterfact-edit.json",
                "counterfact/counterfact_edit_easyedit_first2000.json",
            ),
            formats=(COUNTERFACT_EASYEDIT,),
            archive_member="counterfact-edit.json",
            url_format=COUNTERFACT_EASYEDIT,
            description=(
                "CounterFact as EasyEdit's counterfact-edit.json (one rephrase, one locality prompt per record), "
                "the file the D4S authors' code loads; from EasyEdit's data archive"
            ),
        ),
        DatasetSpec(
            name="mquake",
            urls=(f"{MQUAKE_RAW}/datasets/MQuAKE-CF-3k.json",),
            mirror_files=(
                "MQuAKE-CF-3k.json",
                "mquake/MQuAKE-CF-3k.json",
                "mquake/MQuAKE-hard_all429.json",
            ),
            formats=(MQUAKE,),
            description="MQuAKE-CF-3k multi-hop edits (Zhong et al. 2023); the mirror holds MQuAKE-hard instead",
        ),
        DatasetSpec(
            name="mquake_v2",
            urls=(f"{MQUAKE_RAW}/datasets/MQuAKE-CF-3k-v2.json",),
            mirror_files=("MQuAKE-CF-3k-v2.json", "mquake/MQuAKE-CF-3k-v2.json"),
            formats=(MQUAKE,),
            description="MQuAKE-CF-3k v2, the maintainers' corrected release (v1 has conflicting edits); the paper "
                        "config edits it",
        ),
        *(
            DatasetSpec(
                name=f"mqd_{form}",
                urls=(),
                mirror_files=(),
                formats=(COUNTERFACT_EASYEDIT,),
                built_from="counterfact_easyedit",
                description=(
                    f"our rebuild of MQD (the paper's unreleased Multi-Question Dataset), {title} form of "
                    "CounterFact facts; built by `seqedit build-mqd` (seqedit.data.mqd), not downloaded"
                ),
            )
            for form, title in (("tf", "True/False"), ("mc", "Multiple-choice"), ("dg", "Directly-generated"))
        ),
    ]
}


@dataclass(frozen=True)
class PromptSpec:
    """A prompt file a metric reads (data, fetched like the datasets; never committed to this repository)."""

    name: str
    urls: tuple[str, ...]  # canonical locations, pinned to a commit
    mirror_files: tuple[str, ...]  # relative to the data mirror
    sha256: str  # of the file at the pinned commit: a copy that differs is refused
    description: str = ""


PROMPTS: dict[str, PromptSpec] = {
    spec.name: spec
    for spec in [
        PromptSpec(
            name="mquake_multihop",
            urls=(f"{MQUAKE_RAW}/prompts/multihop-prompts.txt",),
            mirror_files=("mquake/multihop-prompts.txt", "multihop-prompts.txt"),
            sha256="1d6f48038599dec1ea63080c07f946f47f57c3227a3428b0efdca88cf566de17",
            description=(
                "MQuAKE's in-context examples for multi-hop questions (prompts/multihop-prompts.txt, 16 "
                "'Q: ... A: ...' lines; README 'Multi-hop questions'), 1135 bytes"
            ),
        ),
    ]
}


def get_prompt_spec(name: str) -> PromptSpec:
    try:
        return PROMPTS[name]
    except KeyError:
        raise UnknownNameError(f"unknown prompt file {name!r}; known: {', '.join(sorted(PROMPTS))}") from None


@dataclass(frozen=True)
class MirrorFile:
    path: str  # relative to the mirror folder
    sha256: str  # hex digest or a prefix of it (at least 16 digits); the file must match


@dataclass(frozen=True)
class HFSource:
    path: str
    config: str | None
    split: str
    text_field: str = "text"
    streaming: bool = False  # stream instead of downloading the whole split (large corpora)
    rows_are_lines: bool = False  # wikitext: one row per line, articles must be re-assembled


@dataclass(frozen=True)
class CorpusSpec:
    name: str
    split: str  # how the text becomes documents: "wikitext-articles" | "paragraphs" | "rows"
    mirror: MirrorFile | None = None
    hf: HFSource | None = None
    description: str = ""


CORPORA: dict[str, CorpusSpec] = {
    spec.name: spec
    for spec in [
        CorpusSpec(
            name="wikitext2-test",
            split="wikitext-articles",
            mirror=MirrorFile("wikitext/wikitext2_raw_v1_test.raw", "4f3e427e4aff23ac"),
            hf=HFSource("Salesforce/wikitext", "wikitext-2-raw-v1", "test", rows_are_lines=True),
            description="WikiText-2 raw v1 test split, one document per article (62 articles)",
        ),
        CorpusSpec(
            name="wikitext2-train-excerpt",
            split="paragraphs",
            mirror=MirrorFile("wikitext/wikitext2_raw_train_excerpt_hypertensor.txt", "ed14f9ef053842b4"),
            description=(
                "an excerpt of WikiText-2 raw train without headings, one document per paragraph; mirror only: no "
                "canonical URL serves this exact text (the mirror's copy of NagusameCS/HyperTensor @ fe72643, "
                "data/wikitext2_train_5k.txt, see its SOURCES.md). The held-out text of the general perplexity "
                "(disjoint from wikitext2-test, the layer statistics' text); online, use wikitext2-train"
            ),
        ),
        CorpusSpec(
            name="wikitext2-train",
            split="wikitext-articles",
            hf=HFSource("Salesforce/wikitext", "wikitext-2-raw-v1", "train", rows_are_lines=True),
            description="WikiText-2 raw v1 train split, one document per article (online only)",
        ),
        CorpusSpec(
            name="wikitext103-train",
            split="wikitext-articles",
            hf=HFSource("Salesforce/wikitext", "wikitext-103-raw-v1", "train", rows_are_lines=True),
            description="WikiText-103 raw v1 train split, one document per article (online only)",
        ),
        CorpusSpec(
            name="wikipedia-20231101en",
            split="rows",
            hf=HFSource("wikimedia/wikipedia", "20231101.en", "train", streaming=True),
            description=(
                "English Wikipedia dump 2023-11-01 (wikimedia/wikipedia), one document per article in dataset "
                "order (online only). ROME/EasyEdit used the 20200501.en / 20220301.en dumps of the retired "
                "script-based 'wikipedia' dataset, which current `datasets` cannot load; hence another name."
            ),
        ),
    ]
}


class UnknownNameError(KeyError):
    """An unregistered dataset or corpus name; ``str()`` gives the plain message (KeyError would quote it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def get_dataset_spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownNameError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}") from None


def get_corpus_spec(name: str) -> CorpusSpec:
    try:
        return CORPORA[name]
    except KeyError:
        raise UnknownNameError(f"unknown corpus {name!r}; known corpora: {', '.join(sorted(CORPORA))}") from None
