"""Offline lm-eval tasks over the data mirror.

For each task a YAML file is generated into ``<work_dir>/tasks/``. It ``include``s lm-eval's own task file (an
absolute path into the installed ``lm_eval`` package, found at run time), so prompts, choices, targets,
``process_docs``/``process_results`` functions, filters and metrics are lm-eval's; it only overrides where the
documents come from: ``dataset_path: json`` with ``dataset_kwargs.data_files`` set to local JSONL files: one that
stands in for lm-eval's evaluation split, and a disjoint few-shot pool.

Few-shot examples never come from the evaluated items: the last ``FEWSHOT_POOL`` records of each mirror file
(25, the largest shot count of the paper config: ARC's Open LLM Leaderboard setting) are split off into the split
``train``, which the task names as its ``fewshot_split``; the evaluation split holds the records before them. (The
mirror has one split per task, so the pool is disjoint items of the evaluated file, not lm-eval's training/dev
split; for MMLU the pool mixes the five subjects instead of lm-eval's per-subject dev examples.)

Where the mirror's records already have the Hugging Face dataset's fields (arc_challenge, hellaswag, winogrande,
gsm8k) the YAML points at the mirror file itself. Where they differ it points at a converted copy in
``<work_dir>/data/``:

- truthfulqa: the mirror keeps TruthfulQA's original ``mc_task.json`` layout, ``mc1_targets = {answer: 0/1}``; the HF
  ``truthful_qa/multiple_choice`` dataset (which lm-eval reads) has ``{"choices": [...], "labels": [...]}`` in the
  same order. lm-eval's mc1 scores choice 0 as the gold answer, so a record whose first mc1 answer is not the true
  one is an error.
- mmlu (an offline subset: 5 of MMLU's 57 subjects, the first 40 test items of each): the mirror holds one file
  over five subjects with the answer options in columns ``A``..``D``; ``cais/mmlu``
  (lm-eval) has ``choices = [A, B, C, D]``. lm-eval splits MMLU into 57 per-subject tasks; here it is one task over
  the whole file, built on lm-eval's ``mmlu/default/_default_template_yaml`` with the per-subject description
  rendered from each document's ``subject``. The records are interleaved round-robin across subjects so that a
  small ``limit`` covers all subjects rather than only the first one.
"""
from __future__ import annotations

import importlib.util
import json
from collections import OrderedDict
from pathlib import Path

import yaml

from .. import atomic
from ..files import read_jsonl
from .specs import TASKS, TaskSpec


def lm_eval_tasks_dir() -> Path:
    """The ``tasks`` folder of the installed lm-eval package (found without importing lm_eval)."""
    spec = importlib.util.find_spec("lm_eval")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("lm_eval is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "tasks"


# ------------------------------------------------------------------ converters (mirror record -> HF record)
def convert_truthfulqa_record(rec: dict) -> dict:
    """``{answer: label}`` dicts -> HF ``{"choices": [...], "labels": [...]}``, order kept."""
    out = {"question": rec["question"]}
    for key in ("mc1_targets", "mc2_targets"):
        targets = rec[key]
        out[key] = {"choices": list(targets.keys()), "labels": [int(v) for v in targets.values()]}
    mc1 = out["mc1_targets"]["labels"]
    if not mc1 or mc1[0] != 1 or sum(mc1) != 1:
        raise ValueError(f"truthfulqa record {rec['question']!r}: mc1 must have exactly one true answer, first; "
                         f"got labels {mc1}")
    return out


def convert_truthfulqa(records: list[dict]) -> list[dict]:
    return [convert_truthfulqa_record(r) for r in records]


def convert_mmlu_record(rec: dict) -> dict:
    """Columns ``A``..``D`` -> ``choices``; ``answer`` stays the 0-3 index (HF ``cais/mmlu`` layout)."""
    answer = rec["answer"]
    if isinstance(answer, str):
        answer = "ABCD".index(answer) if answer in ("A", "B", "C", "D") else int(answer)
    if answer not in (0, 1, 2, 3):
        raise ValueError(f"mmlu record {rec['question'][:60]!r}: answer {rec['answer']!r} is not 0-3 / A-D")
    return {"question": rec["question"], "subject": rec["subject"],
            "choices": [rec[c] for c in "ABCD"], "answer": int(answer)}


def convert_mmlu(records: list[dict]) -> list[dict]:
    """Convert and interleave round-robin across subjects (subjects in order of first appearance)."""
    by_subject: OrderedDict[str, list[dict]] = OrderedDict()
    for rec in records:
        by_subject.setdefault(rec["subject"], []).append(convert_mmlu_record(rec))
    queues = list(by_subject.values())
    longest = max((len(q) for q in queues), default=0)
    out = [q[i] for i in range(longest) for q in queues if i < len(q)]
    return out


CONVERTERS = {"truthfulqa": convert_truthfulqa, "mmlu": convert_mmlu}


def _write_if_changed(path: Path, text: str) -> Path:
    """Rewrite only when the content changes: an unchanged file keeps its mtime and so datasets' cache."""
    if not (path.exists() and path.read_text(encoding="utf-8") == text):
        atomic.write_text(path, text)
    return path


FEWSHOT_POOL = 25
FEWSHOT_SPLIT = "train"


def data_files(spec: TaskSpec, mirror: str | Path, work_dir: str | Path) -> tuple[Path, Path]:
    """The JSONL files (HF record layout) the offline task reads: ``(evaluation records, few-shot pool)``, the
    pool being the last ``FEWSHOT_POOL`` records of the (converted) mirror file, disjoint from the others."""
    src = Path(mirror).resolve() / spec.file
    if not src.exists():
        raise FileNotFoundError(f"{spec.key}: mirror file {src} not found")
    records = read_jsonl(src)
    if spec.convert is not None:
        records = CONVERTERS[spec.convert](records)
    if len(records) <= FEWSHOT_POOL:
        raise ValueError(f"{spec.key}: {len(records)} records leave none to evaluate after {FEWSHOT_POOL} few-shot")
    out = []
    for part, recs in (("eval", records[:-FEWSHOT_POOL]), ("fewshot", records[-FEWSHOT_POOL:])):
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs)
        out.append(_write_if_changed(Path(work_dir).resolve() / "data" / f"{spec.key}__{part}.jsonl", text))
    return out[0], out[1]


def task_config(spec: TaskSpec, data_path: Path, fewshot_path: Path, datasets_cache: Path | None = None) -> dict:
    """The YAML mapping of one offline task."""
    include = lm_eval_tasks_dir() / spec.yaml
    if not include.exists():
        raise FileNotFoundError(f"{spec.key}: lm-eval task file {include} not found (lm-eval version changed?)")
    kwargs: dict = {"data_files": {spec.split: str(data_path), FEWSHOT_SPLIT: str(fewshot_path)}}
    if datasets_cache is not None:
        kwargs["cache_dir"] = str(datasets_cache)
    cfg = {
        "include": str(include),
        "task": spec.key,
        "dataset_path": "json",
        "dataset_name": None,
        "dataset_kwargs": kwargs,
        "training_split": None,
        "validation_split": spec.split if spec.split == "validation" else None,
        "test_split": spec.split if spec.split == "test" else None,
        "fewshot_split": FEWSHOT_SPLIT,  # disjoint from the evaluated records
    }
    cfg.update(spec.overrides)
    return cfg


def write_task_yamls(keys, mirror: str | Path, work_dir: str | Path) -> dict[str, Path]:
    """Generate the offline task YAMLs (and converted data) for ``keys`` into ``work_dir``; return key -> YAML path."""
    work_dir = Path(work_dir).resolve()
    cache = work_dir / "hf" / "datasets"
    out = {}
    for key in keys:
        spec = TASKS[key]
        cfg = task_config(spec, *data_files(spec, mirror, work_dir), cache)
        text = yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True, width=1000)
        out[key] = _write_if_changed(work_dir / "tasks" / f"{key}.yaml", text)
    return out
