"""MQuAKE metrics as princeton-nlp/MQuAKE evaluates (README "Evaluation"; ``run_mello.ipynb``), read at commit
:data:`seqedit.data.registry.MQUAKE_COMMIT`.

- Multi-hop accuracy (over **cases**): a case is correct when the model answers *any* of its multi-hop questions
  with the new answer or one of its aliases, all of the case's rewrites applied. Each question follows MQuAKE's
  in-context examples, ``prompts/multihop-prompts.txt`` (16 ``Q: ... A: ...`` lines, read verbatim: registry prompt
  ``mquake_multihop``, fetched by the workflow like the datasets), as ``<examples>\\nQ: <question> A:``; the answer
  is the greedy generation up to its first newline, stripped. Config ``evaluation.mquake.prompt: handmade`` (or the
  fallback ``prompt_fallback: handmade`` when MQuAKE's file cannot be fetched) uses our own ``n_fewshot`` examples
  instead (:data:`FEWSHOT`); every result names the prompt that ran (``prompt``, ``prompt_source``).
- Answer matching: rule ``exact`` is MQuAKE's ``ans == new_answer or ans in new_answer_alias`` (case-sensitive
  string equality); ``normalised`` compares after case folding and removing quotes, a trailing period and extra
  spaces; ``prefix`` also accepts a normalised answer that starts with the gold one at a word boundary.
- Pre-edit check (``multi_hop_accuracy_pre_edit``, over cases): the same questions asked of the *unedited* model,
  matched against the answer before editing (``answer`` / ``answer_alias``), to tell a model that never knew the
  chain from an edit that broke it.
- Single-hop accuracy (over **rewrites**, the edited facts): each rewrite's cloze statement (the prompt of the
  edit) without in-context examples (MQuAKE: "the same statement we used to inject the fact"); correct when the
  continuation's first line starts, at a word boundary (normalised), with the hop's answer or one of its aliases
  (``new_single_hops[*].answer`` / ``answer_alias`` of the hop with that cloze; the rewrite's target_new when the
  file has none). A cloze continuation goes on after the answer, so the prefix rule is the only sensible one here.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..data.registry import MQUAKE_COMMIT

FEWSHOT = [
    ("What is the capital of the country where the Eiffel Tower is located?", "Paris"),
    ("What is the official language of the country where the Colosseum is located?", "Italian"),
    ("On which continent is the country where Mount Kilimanjaro is located?", "Africa"),
    ("Which company developed the operating system Windows?", "Microsoft"),
    ("What currency is used in the country where the Matterhorn is located?", "Swiss franc"),
    ("In which town was the author of Hamlet born?", "Stratford-upon-Avon"),
    ("What is the capital of the country where the Taj Mahal is located?", "New Delhi"),
    ("What is the official language of the country of citizenship of Pablo Picasso?", "Spanish"),
]
MATCH_RULES = ("exact", "normalised", "prefix")
PROMPT_KINDS = ("mquake", "handmade")
PROMPT_FALLBACKS = ("fail", "handmade")
MQUAKE_PROMPT = "mquake_multihop"  # registry name of MQuAKE's prompt file


@dataclass(frozen=True)
class MultihopPrompt:
    """The in-context examples before each multi-hop question, and what they are (every result says)."""

    examples: str  # "Q: ... A: ..." lines joined by newlines, no trailing newline; "" = no examples
    label: str
    source: str
    sha256: str | None = None
    fallback: bool = False

    def query(self, question: str) -> str:
        return f"{self.examples}\nQ: {question} A:" if self.examples else f"Q: {question} A:"


def handmade_prompt(n_fewshot: int, why: str | None = None) -> MultihopPrompt:
    if not 0 <= n_fewshot <= len(FEWSHOT):
        raise ValueError(f"n_fewshot must be in 0..{len(FEWSHOT)}, got {n_fewshot}")
    label = f"hand-made {n_fewshot}-shot 'Q: ... A:' prompt (seqedit.evaluation.mquake.FEWSHOT), not MQuAKE's"
    if why:
        label += f" (fallback: {why})"
    return MultihopPrompt("\n".join(f"Q: {q} A: {a}" for q, a in FEWSHOT[:n_fewshot]), label,
                          "seqedit.evaluation.mquake.FEWSHOT", None, why is not None)


def load_prompt(kind: str, path: str | Path | None, n_fewshot: int) -> MultihopPrompt:
    """The prompt of config ``evaluation.mquake.prompt``: ``handmade``, or ``mquake`` from the JSON record that
    ``seqedit download-data --prompt mquake_multihop`` wrote at ``path`` (an 'unavailable' record, written only
    when the config allows the fallback, gives the hand-made prompt, labelled as a fallback)."""
    if kind not in PROMPT_KINDS:
        raise ValueError(f"unknown MQuAKE prompt {kind!r}; known: {', '.join(PROMPT_KINDS)}")
    if kind == "handmade":
        return handmade_prompt(n_fewshot)
    if path is None:
        raise ValueError("MQuAKE's multi-hop prompt needs --mquake-prompt-file (the JSON that `seqedit download-data "
                         f"--prompt {MQUAKE_PROMPT}` writes), or --mquake-prompt handmade for our own examples")
    rec = json.loads(Path(path).read_text(encoding="utf-8"))
    if not rec.get("available"):
        if rec.get("fallback") != "handmade":
            raise ValueError(f"{path}: MQuAKE's prompt file was not fetched and no fallback is allowed")
        return handmade_prompt(n_fewshot, "MQuAKE's prompts/multihop-prompts.txt could not be fetched")
    examples = rec["text"].strip("\n")
    n = len([line for line in examples.split("\n") if line.strip()])
    label = f"MQuAKE's prompts/multihop-prompts.txt @ {MQUAKE_COMMIT[:7]} ({n} in-context examples)"
    return MultihopPrompt(examples, label, rec["source"], rec.get("sha256"))


def normalise(text: str) -> str:
    text = text.strip().strip("\"'").strip()
    text = re.sub(r"\s+", " ", text).casefold()
    return text[:-1].rstrip() if text.endswith(".") else text


def first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0].strip() if text.strip() else ""


def matches(answer: str, golds: list[str], rule: str) -> bool:
    if rule not in MATCH_RULES:
        raise ValueError(f"unknown match rule {rule!r}; known: {', '.join(MATCH_RULES)}")
    if rule == "exact":  # MQuAKE: ans == new_answer or ans in new_answer_alias
        return any(answer == gold for gold in golds if gold)
    a = normalise(answer)
    for gold in golds:
        g = normalise(gold)
        if not g:
            continue
        if a == g:
            return True
        if rule == "prefix" and a.startswith(g) and not a[len(g):len(g) + 1].isalnum():
            return True
    return False


def edited_hops(request: dict) -> list[tuple[str, list[str]]]:
    """``(cloze, [answer, *aliases])`` for each rewrite of a case."""
    by_cloze = {h["cloze"]: [h["answer"], *(h.get("answer_aliases") or [])]
                for h in request.get("single_hops", []) if h.get("cloze")}
    return [(rw["prompt"], by_cloze.get(rw["prompt"], [rw["target_new"]])) for rw in request["requested_rewrites"]]


def _questions(requests: list[dict], prompt: MultihopPrompt) -> tuple[list[int], list[str]]:
    owners, prompts = [], []
    for i, r in enumerate(requests):
        for q in r.get("questions", []):
            owners.append(i)
            prompts.append(prompt.query(q))
    return owners, prompts


def answered(model, tok, requests: list[dict], prompt: MultihopPrompt, golds, match: str,
             max_new_tokens: int = 16, batch_size: int = 16) -> list[bool | None]:
    """Per case: whether a multi-hop question was answered with one of ``golds(request)`` (None: no golds)."""
    from .generation import generate  # torch: imported when generating, so the options stay light

    owners, prompts = _questions(requests, prompt)
    answers = generate(model, tok, prompts, max_new_tokens, stop_at_newline=True, batch_size=batch_size)
    ok: list[bool | None] = [False if golds(r) else None for r in requests]
    for o, ans in zip(owners, answers):
        if ok[o] is not None and matches(first_line(ans), golds(requests[o]), match):
            ok[o] = True
    return ok


def new_golds(r: dict) -> list[str]:
    return [r["new_answer"], *r.get("new_answer_aliases", [])]


def old_golds(r: dict) -> list[str]:
    return [r["answer"], *r.get("answer_aliases", [])] if r.get("answer") else []


def pre_edit(model, tok, requests: list[dict], prompt: MultihopPrompt, match: str, max_new_tokens: int = 16,
             batch_size: int = 16) -> list[bool | None]:
    """MQuAKE's pre-edit check on the unedited model: the answer before editing, per case (None: the file has
    no such answer)."""
    return answered(model, tok, requests, prompt, old_golds, match, max_new_tokens, batch_size)


def _share(flags) -> float | None:
    known = [f for f in flags if f is not None]
    return sum(known) / len(known) if known else None


def mquake_metrics(model, tok, requests: list[dict], prompt: MultihopPrompt, match: str = "exact",
                   max_new_tokens: int = 16, batch_size: int = 16,
                   before: list[bool | None] | None = None) -> tuple[dict, list[dict]]:
    """The ``mquake`` block of the metrics JSON (on the edited ``model``), and per case ``multi_hop`` (and
    ``multi_hop_pre_edit`` from ``before``, :func:`pre_edit` on the unedited model)."""
    from .generation import generate

    correct = answered(model, tok, requests, prompt, new_golds, match, max_new_tokens, batch_size)
    hops = [h for r in requests for h in edited_hops(r)]
    conts = generate(model, tok, [c for c, _ in hops], max_new_tokens, stop_at_newline=True, batch_size=batch_size)
    hop_ok = [matches(first_line(c), golds, "prefix") for c, (_, golds) in zip(conts, hops)]
    before = before if before is not None else [None] * len(requests)
    rule = {"exact": "exact match (MQuAKE's ans == new_answer or ans in new_answer_alias, case-sensitive)",
            "normalised": "match after normalising (case folded, quotes, trailing period and extra spaces removed)",
            "prefix": "normalised match or a prefix at a word boundary"}[match]
    block = {
        "multi_hop_accuracy": _share(correct),
        "multi_hop_accuracy_pre_edit": _share(before),
        "single_hop_accuracy": sum(hop_ok) / len(hop_ok) if hop_ok else None,
        "n_cases": len(requests),
        "n_cases_pre_edit": sum(b is not None for b in before),
        "n_questions": len(_questions(requests, prompt)[0]),
        "n_hops": len(hops),
        "prompt": prompt.label,
        "prompt_source": prompt.source,
        "prompt_sha256": prompt.sha256,
        "prompt_fallback": prompt.fallback,
        "match_rule": (f"multi-hop (cases): {rule} of the first generated line against the new answer or an alias, "
                       f"any question of a case; prompt: {prompt.label}; pre-edit (cases): the unedited model against "
                       "the answer before editing or an alias; single-hop (rewrites): the cloze continuation starts "
                       "with the hop's answer or an alias (normalised, word boundary)"),
    }
    per_case = [{"multi_hop": bool(c), "multi_hop_pre_edit": b} for c, b in zip(correct, before)]
    return block, per_case
