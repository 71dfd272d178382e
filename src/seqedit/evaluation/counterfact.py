"""CounterFact metrics as ROME defines them (kmeng01/rome, ``experiments/py/eval_utils_counterfact.py`` and
``experiments/summarize.py``).

Probabilities: for a prompt, ``nll(x)`` is the mean negative log-probability per token of ``x`` after the
prompt (teacher forcing). ROME's ``test_batch_prediction`` feeds ``prompt + " " + x`` tokenised jointly, the
prompt's length from the prompt alone, but the target's length from ``" " + x`` alone: equal for GPT-2/GPT-J's
byte-level BPE (ROME's models), one too many on SentencePiece (Llama-2's bare "▁"). We score every joint token
after the prompt (:func:`seqedit.tokens.prompt_target_ids`), which is ROME's metric wherever ROME's is well
defined. Per request and prompt kind, averaged over the request's prompts, then over requests:

- efficacy (rewrite prompt) and paraphrase: success = ``nll(new) < nll(true)`` (P(new) > P(true)),
  magnitude = ``exp(-nll(new)) - exp(-nll(true))``;
- neighborhood (locality prompts, answered by target_true): success = ``nll(true) < nll(new)``,
  magnitude = ``exp(-nll(true)) - exp(-nll(new))``;
- score = harmonic mean of efficacy, paraphrase and neighborhood success (0 when one of them is 0).

Magnitudes are differences of (geometric-mean per-token) probabilities, in [-1, 1]; the rest lie in [0, 1].

Fluency: ROME's ``n_gram_entropy``: for each generated text, the entropies (bits) of its word bi- and tri-gram
frequency distributions, weighted 2/3 and 4/3, averaged (arithmetic mean of the two weighted values), then averaged
over texts. Words come from NLTK's Treebank-style word tokenizer on regex-split sentences (ROME calls
``nltk.word_tokenize``, which needs the downloadable punkt model for the sentence split). Texts are sampled as in
ROME's ``generate_fast`` (top-5 sampling; the text is prompt + continuation), seeded, with ``max_new_tokens`` new
tokens instead of ROME's total length of 100 tokens, and a row stops at the end-of-text token.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter

from .generation import generate
from .metrics import TargetScores, mean, per_request_mean, score_targets

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD_TOKENIZER = None


# ------------------------------------------------------------------------------------------------- probabilities
def target_nll(model, tok, prompts: list[str], targets: list[str]) -> list[float]:
    """Mean negative log-probability per target token after each prompt (teacher forcing on
    ``prompt + " " + target`` tokenised jointly, :func:`seqedit.tokens.prompt_target_ids`)."""
    return [nll for _, _, nll in score_targets(model, tok, prompts, targets)]


def success_and_magnitude(nll_wanted: float, nll_other: float) -> tuple[float, float]:
    """ROME: success = P(wanted) > P(other) (lower mean NLL), magnitude = exp(-nll_wanted) - exp(-nll_other)."""
    return float(nll_wanted < nll_other), math.exp(-nll_wanted) - math.exp(-nll_other)


def harmonic_mean(values: list[float | None]) -> float | None:
    if any(v is None for v in values) or not values:
        return None
    if any(v <= 0 for v in values):
        return 0.0
    return len(values) / sum(1.0 / v for v in values)


def is_counterfact_like(requests: list[dict]) -> bool:
    """CounterFact-like: not MQuAKE, a true target everywhere, and every locality prompt answered by it."""
    return bool(requests) and all(
        "requested_rewrites" not in r and r.get("target_true")
        and all(a == r["target_true"] for a in r.get("locality_answers", []))
        for r in requests
    )


def probability_pairs(requests: list[dict]) -> tuple[list[str], list[str]]:
    """Every (prompt, target) the probability metrics score: each prompt with target_new and with target_true."""
    prompts = [p for r in requests for p in [r["prompt"], *r.get("paraphrase_prompts", []),
                                             *r.get("locality_prompts", [])]]
    owners = [r for r in requests for _ in [r["prompt"], *r.get("paraphrase_prompts", []),
                                            *r.get("locality_prompts", [])]]
    return prompts * 2, [r["target_new"] for r in owners] + [r["target_true"] for r in owners]


def probability_metrics(model, tok, requests: list[dict], scores: TargetScores | None = None) -> dict:
    """ROME's probability metrics over ``requests``: per request means over its prompts, then means.
    ``scores``: pairs already scored on this model (the evaluation shares them with the token accuracies)."""
    scores = scores or TargetScores(model, tok)
    scores.need(*probability_pairs(requests))
    kinds = {"efficacy": lambda r: [r["prompt"]], "paraphrase": lambda r: r.get("paraphrase_prompts", []),
             "neighborhood": lambda r: r.get("locality_prompts", [])}
    owner, kind_of, prompts = [], [], []
    for kind, get in kinds.items():
        for i, r in enumerate(requests):
            for p in get(r):
                owner.append(i)
                kind_of.append(kind)
                prompts.append(p)
    nll_new = scores.nll(prompts, [requests[o]["target_new"] for o in owner])
    nll_true = scores.nll(prompts, [requests[o]["target_true"] for o in owner])
    result: dict = {}
    for kind in kinds:
        idx = [j for j, k in enumerate(kind_of) if k == kind]
        pairs = [(nll_true[j], nll_new[j]) if kind == "neighborhood" else (nll_new[j], nll_true[j]) for j in idx]
        succ_mag = [success_and_magnitude(a, b) for a, b in pairs]
        own = [owner[j] for j in idx]
        result[f"{kind}_success"] = mean(per_request_mean(own, [s for s, _ in succ_mag], len(requests)))
        result[f"{kind}_magnitude"] = mean(per_request_mean(own, [m for _, m in succ_mag], len(requests)))
    result["score"] = harmonic_mean([result["efficacy_success"], result["paraphrase_success"],
                                     result["neighborhood_success"]])
    return result


# ------------------------------------------------------------------------------------------------------ fluency
def words(text: str) -> list[str]:
    global _WORD_TOKENIZER
    if _WORD_TOKENIZER is None:
        from nltk.tokenize import NLTKWordTokenizer

        _WORD_TOKENIZER = NLTKWordTokenizer()
    return [w for sentence in _SENTENCE_END.split(text.strip()) if sentence
            for w in _WORD_TOKENIZER.tokenize(sentence)]


def _entropy_bits(counts: Counter) -> float:
    total = sum(counts.values())
    return -sum(c / total * math.log2(c / total) for c in counts.values()) if total else 0.0


def ngram_entropy(text: str, ns=(2, 3), weights=(2 / 3, 4 / 3)) -> float:
    """ROME's ``compute_n_gram_entropy``: mean over n of weight_n * entropy of the n-gram distribution (bits)."""
    toks = words(text)
    vals = [w * _entropy_bits(Counter(tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)))
            for n, w in zip(ns, weights)]
    return sum(vals) / len(vals)


def mean_ngram_entropy(texts: list[str]) -> float | None:
    return sum(ngram_entropy(t) for t in texts) / len(texts) if texts else None


def generation_prompts(requests: list[dict], n: int) -> list[str]:
    """Up to ``n`` prompts: each request's ``generation_prompts`` (ROME format), else its edit prompt and
    paraphrases; taken round-robin (first prompt of every request in order, then the second ones, ...), so for
    ``k >= n`` requests every checkpoint uses the same prompts."""
    lists = [r.get("generation_prompts") or [r["prompt"], *r.get("paraphrase_prompts", [])] for r in requests]
    out: list[str] = []
    depth = 0
    while len(out) < n and any(depth < len(lst) for lst in lists):
        for lst in lists:
            if depth < len(lst) and len(out) < n:
                out.append(lst[depth])
        depth += 1
    return out


def generated_texts(model, tok, prompts: list[str], max_new_tokens: int, seed: int = 0, top_k: int = 5) -> list[str]:
    """As ROME's ``generate_fast`` returns them: prompt + sampled continuation, NFKD-normalised, blank lines
    replaced by a space."""
    conts = generate(model, tok, prompts, max_new_tokens, top_k=top_k, seed=seed)
    return [unicodedata.normalize("NFKD", p + c).replace("\n\n", " ") for p, c in zip(prompts, conts)]


def fluency(model, tok, prompts: list[str], max_new_tokens: int, seed: int = 0, top_k: int = 5) -> float | None:
    """Mean n-gram entropy of seeded top-k samples, one per prompt (the prompt is part of the text, as in ROME)."""
    if not prompts:
        return None
    return mean_ngram_entropy(generated_texts(model, tok, prompts, max_new_tokens, seed, top_k))
