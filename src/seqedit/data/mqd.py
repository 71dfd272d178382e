"""Our rebuild of MQD, the paper's Multi-Question Dataset (never released): the same CounterFact facts asked in
three forms, each form a registry dataset of ordinary edit requests (:mod:`seqedit.data.normalize` schema).

From a CounterFact fact (subject s, cloze prompt p, true object o, counterfactual object o*; EasyEdit's
counterfact-edit record with one rephrase and one locality prompt of the same relation):

- ``mqd_tf`` True/False: ``"Claim: {p} {x}. Is the claim true, yes or no? Answer:"``. Half the claims state the
  true object (x = o; the edit turns the answer "yes" into "no"), half the counterfactual one (x = o*; "no" into
  "yes"), so every edit makes the model answer as if o* were the fact. Facts are taken in pairs and a seeded coin
  decides which of the two is the true claim: every even prefix is exactly balanced.
- ``mqd_mc`` Multiple-choice: ``"{p} ___. Which option fills the blank? a) .., b) .., c) .., d) ... Answer:"``,
  the options o*, o and two distractors in seeded order; the target is o*'s letter, the true target o's. The
  distractors are objects of other facts of the same relation (the same prompt template in the source file),
  else of facts whose objects share a template chain with them, else of any fact (``distractor_pool`` says which);
  no option repeats another or the subject (compared case-insensitively).
- ``mqd_dg`` Directly-generated: the CounterFact request itself (target o*, an entity).

The paraphrase is the same form around the record's rephrase prompt (same claimed object, same options), the
locality prompt the same form around the record's locality prompt: a true claim ("yes"), its true object among
three distractors, or its true object. Each request keeps the fact's id, so the three datasets edit the same facts
in the same order. Randomness comes from ``random.Random(f"{seed}:...")`` keyed by fact id or pair index, so a
dataset of n requests is the prefix of the one of n + k. Distractor pools are read from the whole raw file.
"""
from __future__ import annotations

import random
from collections import defaultdict

from . import registry
from .normalize import load_records, normalize_record

FORMS = {"mqd_tf": "tf", "mqd_mc": "mc", "mqd_dg": "dg"}
LETTERS = ("a", "b", "c", "d")
YES, NO = "yes", "no"
POOL_RELATION, POOL_LINKED, POOL_ANY = "relation", "linked-relations", "any"


def form_of(dataset: str) -> str:
    spec = registry.get_dataset_spec(dataset)
    if spec.name not in FORMS:
        raise ValueError(f"dataset {dataset!r} is not an MQD dataset (MQD datasets: {', '.join(FORMS)})")
    return FORMS[spec.name]


def tf_prompt(prompt: str, obj: str) -> str:
    return f"Claim: {prompt} {obj}. Is the claim true, yes or no? Answer:"


def mc_prompt(prompt: str, options: list[str]) -> str:
    listed = ", ".join(f"{letter}) {o}" for letter, o in zip(LETTERS, options))
    return f"{prompt} ___. Which option fills the blank? {listed}. Answer:"


def _key(obj: str) -> str:
    return obj.strip().casefold()


def relation_of(fact: dict) -> str:
    """The prompt template (subject replaced by ``{}``): CounterFact's relations are asked by a few templates each,
    so facts sharing a template share a relation."""
    return fact["prompt"].replace(fact["subject"], "{}", 1)


def read_facts(records: list, source: str, path="<records>") -> list[dict]:
    """Every usable record of ``records`` as a normalised request of the registry dataset ``source``."""
    facts = []
    for index, rec in enumerate(records):
        fact = normalize_record(rec, source, index, path)
        if not fact["target_new"].strip() or not fact["target_true"]:
            continue
        if _key(fact["target_new"]) == _key(fact["target_true"]):
            continue  # not a counterfactual edit
        if len(fact["paraphrase_prompts"]) != 1 or len(fact["locality_prompts"]) != 1:
            raise ValueError(f"{path}: record {index}: MQD needs exactly one rephrase and one locality prompt, got "
                             f"{len(fact['paraphrase_prompts'])} and {len(fact['locality_prompts'])}")
        facts.append(fact)
    return facts


class DistractorPools:
    """Objects (true and counterfactual) per relation, per group of relations linked by shared objects, and over
    all facts; each list in file order, without case-insensitive duplicates."""

    def __init__(self, facts: list[dict]):
        by_relation: dict[str, dict[str, str]] = defaultdict(dict)
        every: dict[str, str] = {}
        for fact in facts:
            for obj in (fact["target_true"], fact["target_new"]):
                by_relation[relation_of(fact)].setdefault(_key(obj), obj)
                every.setdefault(_key(obj), obj)
        self.by_relation = {rel: list(objs.values()) for rel, objs in by_relation.items()}
        self.all = list(every.values())
        self.linked = self._link()

    def _link(self) -> dict[str, list[str]]:
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            parent.setdefault(x, x)
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for rel, objs in self.by_relation.items():
            for obj in objs:
                parent[find("R:" + rel)] = find("O:" + _key(obj))
        groups: dict[str, dict[str, str]] = defaultdict(dict)
        for rel, objs in self.by_relation.items():
            for obj in objs:
                groups[find("R:" + rel)].setdefault(_key(obj), obj)
        return {rel: list(groups[find("R:" + rel)].values()) for rel in self.by_relation}

    def distractors(self, rng: random.Random, relation: str, exclude: list[str], k: int) -> tuple[list[str], str]:
        """``k`` distinct objects, none equal to one in ``exclude``, from the narrowest pool that has enough."""
        banned = {_key(o) for o in exclude}
        for name, pool in ((POOL_RELATION, self.by_relation.get(relation, [])),
                           (POOL_LINKED, self.linked.get(relation, [])), (POOL_ANY, self.all)):
            candidates = [o for o in pool if _key(o) not in banned]
            if len(candidates) >= k:
                return rng.sample(candidates, k), name
        raise ValueError(f"MQD: fewer than {k} distinct objects besides {exclude} in the whole source file: "
                         f"cannot make multiple-choice options")


def _rng(seed: int, *key) -> random.Random:
    return random.Random(":".join(str(k) for k in (seed, *key)))


def tf_statement_is_true(seed: int, position: int) -> bool:
    """Facts in pairs (0,1), (2,3), ...: a seeded coin per pair picks which one states the true object."""
    first_true = _rng(seed, "tf-pair", position // 2).random() < 0.5
    return first_true if position % 2 == 0 else not first_true


def _request(fact: dict, dataset: str, form: str, prompt: str, paraphrase: str, target_new: str,
             target_true: str, locality_prompt: str, locality_answer: str) -> dict:
    return {
        "id": fact["id"],
        "dataset": dataset,
        "subject": fact["subject"],
        "prompt": prompt,
        "target_new": target_new,
        "target_true": target_true,
        "paraphrase_prompts": [paraphrase],
        "locality_prompts": [locality_prompt],
        "locality_answers": [locality_answer],
        "question_form": form,
    }


def tf_request(fact: dict, dataset: str, statement_true: bool) -> dict:
    obj = fact["target_true"] if statement_true else fact["target_new"]
    new, true = (NO, YES) if statement_true else (YES, NO)
    req = _request(fact, dataset, "tf", tf_prompt(fact["prompt"], obj), tf_prompt(fact["paraphrase_prompts"][0], obj),
                   new, true, tf_prompt(fact["locality_prompts"][0], fact["locality_answers"][0]), YES)
    req["statement_true"] = statement_true
    req["claimed_object"] = obj
    return req


def mc_request(fact: dict, dataset: str, pools: DistractorPools, seed: int) -> dict:
    rng = _rng(seed, "mc", fact["id"])
    relation = relation_of(fact)
    new, true = fact["target_new"], fact["target_true"]
    picked, pool = pools.distractors(rng, relation, [new, true, fact["subject"]], 2)
    options = [new, true, *picked]
    rng.shuffle(options)
    loc_answer = fact["locality_answers"][0]
    loc_picked, loc_pool = pools.distractors(rng, relation, [loc_answer, fact["subject"]], 3)
    loc_options = [loc_answer, *loc_picked]
    rng.shuffle(loc_options)
    req = _request(fact, dataset, "mc", mc_prompt(fact["prompt"], options),
                   mc_prompt(fact["paraphrase_prompts"][0], options), LETTERS[options.index(new)],
                   LETTERS[options.index(true)], mc_prompt(fact["locality_prompts"][0], loc_options),
                   LETTERS[loc_options.index(loc_answer)])
    req.update(options=options, locality_options=loc_options, distractor_pool=pool, locality_distractor_pool=loc_pool)
    return req


def dg_request(fact: dict, dataset: str) -> dict:
    return _request(fact, dataset, "dg", fact["prompt"], fact["paraphrase_prompts"][0], fact["target_new"],
                    fact["target_true"], fact["locality_prompts"][0], fact["locality_answers"][0])


def build_mqd(records: list, dataset: str, n: int, seed: int, path="<records>") -> list[dict]:
    """The first ``n`` usable facts of ``records`` (CounterFact, EasyEdit format) as requests of MQD dataset
    ``dataset`` (``mqd_tf``, ``mqd_mc`` or ``mqd_dg``)."""
    form = form_of(dataset)
    spec = registry.get_dataset_spec(dataset)
    if n < 1:
        raise ValueError(f"MQD: n must be >= 1, got {n}")
    facts = read_facts(records, spec.built_from, path)
    if len(facts) < n:
        raise ValueError(f"{path}: asked for {n} MQD facts, but the file has only {len(facts)} usable records")
    seen: set[str] = set()
    for fact in facts[:n]:
        if fact["id"] in seen:
            raise ValueError(f"{path}: duplicate fact id {fact['id']!r}")
        seen.add(fact["id"])
    if form == "tf":
        return [tf_request(f, spec.name, tf_statement_is_true(seed, i)) for i, f in enumerate(facts[:n])]
    if form == "mc":
        pools = DistractorPools(facts)
        return [mc_request(f, spec.name, pools, seed) for f in facts[:n]]
    return [dg_request(f, spec.name) for f in facts[:n]]


def build_mqd_file(dataset: str, raw, n: int, seed: int, out) -> list[dict]:
    """Build ``dataset`` from the raw CounterFact file ``raw`` and write it as JSON lines to ``out`` (atomically)."""
    import json

    from ..atomic import atomic_path

    requests = build_mqd(load_records(raw), dataset, n, seed, raw)
    with atomic_path(out, suffix=".jsonl") as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            for req in requests:
                f.write(json.dumps(req, ensure_ascii=False) + "\n")
    return requests
