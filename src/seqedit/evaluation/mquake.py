"""MQuAKE metrics as princeton-nlp/MQuAKE defines them (README "Evaluation", ``run_mello.ipynb``).

- Multi-hop accuracy: a case is correct when the model answers *any* of its (three) multi-hop questions with the
  new answer or one of its aliases. The question is asked after a short few-shot prompt of ``Q: ... A: ...``
  lines (MQuAKE uses in-context examples so that the output has the right format; ours are our own true facts,
  ``FEWSHOT``); the answer is the greedy generation up to its first newline. MQuAKE compares
  ``ans == new_answer or ans in new_answer_alias``; rule ``exact`` does the same after normalising both sides
  (case folded, surrounding spaces, quotes and a trailing period removed, inner spaces collapsed); rule ``prefix``
  also accepts an answer that starts with the gold one at a word boundary.
- Single-hop accuracy (edited facts): each rewrite's cloze statement (the prompt used for the edit) is given to the
  model without in-context examples (MQuAKE: "the same statement we used to inject the fact"); a hop is correct
  when the greedy continuation, up to its first newline, starts with the hop's answer (``new_single_hops`` answer
  for that cloze when present, else the rewrite's target_new) at a word boundary (a cloze continuation goes on
  after the answer, so the prefix rule is the only sensible one here). Averaged over all edited hops.
"""
from __future__ import annotations

import re

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
MATCH_RULES = ("exact", "prefix")


def normalise(text: str) -> str:
    text = text.strip().strip("\"'").strip()
    text = re.sub(r"\s+", " ", text).casefold()
    return text[:-1].rstrip() if text.endswith(".") else text


def first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0] if text.strip() else ""


def matches(answer: str, golds: list[str], rule: str) -> bool:
    if rule not in MATCH_RULES:
        raise ValueError(f"unknown match rule {rule!r}; known: {', '.join(MATCH_RULES)}")
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


def fewshot_prompt(question: str, n_fewshot: int) -> str:
    if not 0 <= n_fewshot <= len(FEWSHOT):
        raise ValueError(f"n_fewshot must be in 0..{len(FEWSHOT)}, got {n_fewshot}")
    demos = "".join(f"Q: {q} A: {a}\n" for q, a in FEWSHOT[:n_fewshot])
    return f"{demos}Q: {question} A:"


def edited_hops(request: dict) -> list[tuple[str, str]]:
    """``(cloze, answer)`` for each rewrite of a case."""
    by_cloze = {h.get("cloze"): h["answer"] for h in request.get("single_hops", []) if h.get("cloze")}
    return [(rw["prompt"], by_cloze.get(rw["prompt"], rw["target_new"])) for rw in request["requested_rewrites"]]


def mquake_metrics(model, tok, requests: list[dict], max_new_tokens: int = 16, n_fewshot: int = 4,
                   match: str = "exact", batch_size: int = 16) -> tuple[dict, list[bool]]:
    """The ``mquake`` block of the metrics JSON, and per case whether a multi-hop question was answered."""
    owners, prompts = [], []
    for i, r in enumerate(requests):
        for q in r.get("questions", []):
            owners.append(i)
            prompts.append(fewshot_prompt(q, n_fewshot))
    from .generation import generate  # torch: imported when generating, so the options stay light

    answers = generate(model, tok, prompts, max_new_tokens, stop_at_newline=True, batch_size=batch_size)
    correct = [False] * len(requests)
    for o, ans in zip(owners, answers):
        r = requests[o]
        if matches(first_line(ans), [r["new_answer"], *r.get("new_answer_aliases", [])], match):
            correct[o] = True
    hops = [h for r in requests for h in edited_hops(r)]
    conts = generate(model, tok, [c for c, _ in hops], max_new_tokens, stop_at_newline=True, batch_size=batch_size)
    hop_ok = [matches(first_line(c), [a], "prefix") for c, (_, a) in zip(conts, hops)]
    return {
        "multi_hop_accuracy": sum(correct) / len(correct) if correct else None,
        "single_hop_accuracy": sum(hop_ok) / len(hop_ok) if hop_ok else None,
        "n_cases": len(requests),
        "n_questions": len(prompts),
        "n_hops": len(hops),
        "match_rule": (f"multi-hop: {match} match (case-insensitive, stripped) of the first generated line against "
                       f"new_answer or an alias, any question of a case, {n_fewshot}-shot 'Q: ... A:' prompt; "
                       "single-hop: cloze continuation starts with the hop's answer (word boundary)"),
    }, correct
