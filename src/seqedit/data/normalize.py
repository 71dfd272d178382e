"""Normalise raw editing datasets into one request schema (JSON lines, one request per line).

Every request::

    {"id": str, "dataset": str, "subject": str,
     "prompt": str,            # filled text, contains the subject verbatim
     "target_new": str,        # no leading space
     "target_true": str | None,
     "paraphrase_prompts": [str], "locality_prompts": [str], "locality_answers": [str]}

MQuAKE requests also carry ``requested_rewrites`` ([{subject, prompt, target_new, target_true}], prompts filled),
``questions``, ``new_answer``, ``new_answer_aliases``, ``answer`` / ``answer_aliases`` (the answer before editing;
null / [] when the file lacks them) and ``single_hops`` ([{question, cloze, answer, answer_aliases}] along the *new*
chain: MQuAKE's ``new_single_hops`` with their ``answer_alias``); their top-level subject/prompt/targets are those of the first rewrite, and their paraphrase and
locality lists are empty (MQuAKE has none).

The format is detected per record:

- CounterFact, ROME format: ``requested_rewrite`` dict. Locality prompts are the ``neighborhood_prompts``, each
  answered by ``target_true.str``. When the record has ``generation_prompts`` (ROME's fluency prompts), the request
  keeps them in an optional ``generation_prompts`` field (absent otherwise, and in every other format).
- CounterFact, EasyEdit format (``counterfact-edit.json``): ``prompt``/``target_new``/``ground_truth``/
  ``rephrase_prompt``/``locality_prompt``/``locality_ground_truth``.
- zsRE, ROME/MEND format: ``src`` is the prompt (a question, kept as is), ``alt`` the new target, ``answers[0]``
  the true one, ``rephrase`` the paraphrase, ``loc``/``loc_ans`` the locality pair. ``loc`` is kept verbatim,
  "nq question: " prefix included and no "?" added, exactly as EasyEdit's ``ZsreDataset`` and the D4S run script
  (``examples/run_zsre_llama2.py``) pass it to the editor.
- MQuAKE: ``requested_rewrite`` list.

Records whose new target is empty are skipped, as EasyEdit's ``ZsreDataset`` does (zsRE eval records 54 and 103
have ``alt == ""``); "the first N" means the first N usable records, and the skipped indices are reported.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from ..atomic import atomic_path
from . import registry
from .record_fields import RecordError, RecordFields
from .usable import unusable

BASE_FIELDS = (
    "id",
    "dataset",
    "subject",
    "prompt",
    "target_new",
    "target_true",
    "paraphrase_prompts",
    "locality_prompts",
    "locality_answers",
)
MQUAKE_FIELDS = ("requested_rewrites", "questions", "new_answer", "new_answer_aliases", "answer", "answer_aliases",
                 "single_hops")


def load_records(path: str | os.PathLike) -> list:
    """A JSON array, or JSON lines; an unreadable, invalid or empty file is an error naming it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason}); fetch it again") from None
    stripped = text.lstrip()
    if not stripped:
        raise ValueError(f"{path}: the file is empty (no records); fetch it again")
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: line {e.lineno}, column {e.colno}: not valid JSON ({e.msg})") from None
    else:
        data = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    data.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}: line {lineno}: not JSON ({e})") from None
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON array of records or JSON lines, got {type(data).__name__}")
    if not data:
        raise ValueError(f"{path}: holds no records; fetch it again")
    return data


def detect_format(rec: Any) -> str | None:
    if not isinstance(rec, dict):
        return None
    rr = rec.get("requested_rewrite")
    if isinstance(rr, dict):
        return registry.COUNTERFACT_ROME
    if isinstance(rr, list):
        return registry.MQUAKE
    if "src" in rec and "alt" in rec:
        return registry.ZSRE_MEND
    if "prompt" in rec and "target_new" in rec and "subject" in rec:
        return registry.COUNTERFACT_EASYEDIT
    return None


def _base(rid: str, dataset: str, subject: str, prompt: str, target_new: str, target_true: str | None) -> dict:
    return {
        "id": rid,
        "dataset": dataset,
        "subject": subject,
        "prompt": prompt,
        "target_new": target_new.lstrip(),
        "target_true": None if target_true is None else target_true.lstrip(),
        "paraphrase_prompts": [],
        "locality_prompts": [],
        "locality_answers": [],
    }


def _record_id(rec: dict, index: int) -> str:
    cid = rec.get("case_id")
    return str(cid) if cid is not None else str(index)


def _counterfact_rome(r: RecordFields, rec: dict, dataset: str, index: int) -> dict:
    rw = r.get(rec, "requested_rewrite", dict)
    subject = r.str_(rw, "subject", "requested_rewrite.subject")
    prompt = r.fill(r.str_(rw, "prompt", "requested_rewrite.prompt"), subject, "requested_rewrite.prompt")
    new = r.target(rw, "target_new", "requested_rewrite.target_new")
    true = r.target(rw, "target_true", "requested_rewrite.target_true")
    r.check_subject(subject, prompt, "requested_rewrite.subject")
    out = _base(_record_id(rec, index), dataset, subject, prompt, new, true)
    out["paraphrase_prompts"] = r.str_list(rec, "paraphrase_prompts")
    out["locality_prompts"] = r.str_list(rec, "neighborhood_prompts")
    out["locality_answers"] = [out["target_true"]] * len(out["locality_prompts"])
    if rec.get("generation_prompts") is not None:
        out["generation_prompts"] = r.str_list(rec, "generation_prompts")
    return out


def _counterfact_easyedit(r: RecordFields, rec: dict, dataset: str, index: int) -> dict:
    subject = r.str_(rec, "subject")
    prompt = r.str_(rec, "prompt")
    r.check_subject(subject, prompt)
    out = _base(
        _record_id(rec, index), dataset, subject, prompt, r.str_(rec, "target_new"), r.str_(rec, "ground_truth")
    )
    out["paraphrase_prompts"] = [r.str_(rec, "rephrase_prompt")]
    out["locality_prompts"] = [r.str_(rec, "locality_prompt")]
    out["locality_answers"] = [r.str_(rec, "locality_ground_truth")]
    return out


def _zsre(r: RecordFields, rec: dict, dataset: str, index: int) -> dict:
    subject = r.str_(rec, "subject")
    prompt = r.str_(rec, "src")
    r.check_subject(subject, prompt)
    answers = r.str_list(rec, "answers")
    if not answers:
        raise r.err("answers", "empty list")
    out = _base(_record_id(rec, index), dataset, subject, prompt, r.str_(rec, "alt"), answers[0])
    out["paraphrase_prompts"] = [r.str_(rec, "rephrase")]
    out["locality_prompts"] = [r.str_(rec, "loc")]
    out["locality_answers"] = [r.str_(rec, "loc_ans")]
    return out


def _mquake(r: RecordFields, rec: dict, dataset: str, index: int) -> dict:
    rws = r.get(rec, "requested_rewrite", list)
    if not rws:
        raise r.err("requested_rewrite", "empty list")
    rewrites = []
    for k, rw in enumerate(rws):
        f = f"requested_rewrite[{k}]"
        if not isinstance(rw, dict):
            raise r.err(f, f"expected dict, got {type(rw).__name__}")
        subject = r.str_(rw, "subject", f"{f}.subject")
        prompt = r.fill(r.str_(rw, "prompt", f"{f}.prompt"), subject, f"{f}.prompt")
        r.check_subject(subject, prompt, f"{f}.subject")
        new = r.target(rw, "target_new", f"{f}.target_new").lstrip()
        true = r.target(rw, "target_true", f"{f}.target_true").lstrip()
        if not new.strip():
            raise r.err(f"{f}.target_new", "empty target")
        rewrites.append({"subject": subject, "prompt": prompt, "target_new": new, "target_true": true})
    first = rewrites[0]
    out = _base(
        _record_id(rec, index), dataset, first["subject"], first["prompt"], first["target_new"], first["target_true"]
    )
    out["requested_rewrites"] = rewrites
    out["questions"] = r.str_list(rec, "questions")
    out["new_answer"] = r.str_(rec, "new_answer")
    out["new_answer_aliases"] = r.str_list(rec, "new_answer_alias", optional=True)
    # the answer before editing (MQuAKE's pre-edit check of the unedited model), when the file has it
    out["answer"] = r.str_(rec, "answer", optional=True)
    out["answer_aliases"] = r.str_list(rec, "answer_alias", optional=True)
    hops = []
    if "new_single_hops" in rec:
        for k, hop in enumerate(r.get(rec, "new_single_hops", list)):
            f = f"new_single_hops[{k}]"
            if not isinstance(hop, dict):
                raise r.err(f, f"expected dict, got {type(hop).__name__}")
            hops.append(
                {
                    "question": r.str_(hop, "question", f"{f}.question"),
                    "cloze": r.str_(hop, "cloze", f"{f}.cloze", optional=True),
                    "answer": r.str_(hop, "answer", f"{f}.answer"),
                    "answer_aliases": r.str_list(hop, "answer_alias", f"{f}.answer_alias", optional=True),
                }
            )
    else:  # fall back to the edited hops themselves (no aliases: the rewrite names one target)
        for k, (rw, norm) in enumerate(zip(rws, rewrites)):
            q = r.str_(rw, "question", f"requested_rewrite[{k}].question", optional=True)
            hops.append({"question": q, "cloze": norm["prompt"], "answer": norm["target_new"], "answer_aliases": []})
    out["single_hops"] = hops
    return out


_NORMALISERS = {
    registry.COUNTERFACT_ROME: _counterfact_rome,
    registry.COUNTERFACT_EASYEDIT: _counterfact_easyedit,
    registry.ZSRE_MEND: _zsre,
    registry.MQUAKE: _mquake,
}


def normalize_record(rec: Any, dataset: str, index: int, path: str | os.PathLike = "<records>") -> dict:
    spec = registry.get_dataset_spec(dataset)
    r = RecordFields(path, index)
    fmt = detect_format(rec)
    if fmt is None:
        keys = sorted(rec) if isinstance(rec, dict) else type(rec).__name__
        raise r.err("<record>", f"unrecognised record format (keys: {keys})")
    if fmt not in spec.formats:
        raise r.err("<record>", f"looks like {fmt}, which dataset {dataset!r} does not accept ({spec.formats})")
    return _NORMALISERS[fmt](r, rec, spec.name, index)


def normalize_records(records: list, dataset: str, n: int | None, path: str | os.PathLike = "<records>",
                      skipped_out: dict | None = None) -> list[dict]:
    """The first ``n`` usable records of ``records`` (None: all), normalised; raises ValueError when fewer exist.
    Records that cannot be used (:func:`unusable`) are skipped, each in ``skipped_out`` as {record index: {"id":
    request id, "reason": why}}; their ids are never reused, so the ids of the other requests do not shift."""
    if n is None:
        n = len(records)
        all_records = True
    else:
        all_records = False
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    out: list[dict] = []
    skipped: list[int] = []
    seen: dict[str, int] = {}
    for index, rec in enumerate(records):
        if len(out) >= n:
            break
        req = normalize_record(rec, dataset, index, path)
        reason = unusable(req)
        if reason:
            skipped.append(index)
            if skipped_out is not None:
                skipped_out[index] = {"id": req["id"], "reason": reason}
            continue
        if req["id"] in seen:
            raise RecordError(path, index, "id", f"duplicate id {req['id']!r} (also record {seen[req['id']]})")
        seen[req["id"]] = index
        out.append(req)
    if len(out) < n and not all_records:
        extra = f" ({len(skipped)} skipped as unusable: records {skipped})" if skipped else ""
        raise ValueError(
            f"{path}: asked for {n} records of dataset {dataset!r}, but the file has {len(records)} records "
            f"and only {len(out)} usable{extra}"
        )
    if skipped:
        print(f"[seqedit] {path}: skipped {len(skipped)} unusable records {skipped} (see the summary for ids and "
              "reasons)", file=sys.stderr)
    return out


def prepare_dataset(dataset: str, raw: str | os.PathLike, n: int | None, out: str | os.PathLike,
                    skipped: dict | None = None) -> list[dict]:
    """Normalise the first ``n`` records of ``raw`` (None: every record) and write them as JSON lines to ``out``
    (atomically). The workflow prepares every record, so the file does not depend on ``n_requests`` and raising
    it only adds edit jobs (the chain of the requests already edited is kept). ``skipped`` receives
    {record index: {"id", "reason"}} of the records left out."""
    registry.get_dataset_spec(dataset)  # unknown names fail before the file is read
    requests = normalize_records(load_records(raw), dataset, n, raw, skipped_out=skipped)
    with atomic_path(out, suffix=".jsonl") as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            for req in requests:
                f.write(json.dumps(req, ensure_ascii=False) + "\n")
    return requests
