"""Edit metrics as EasyEdit defines them (the definition the paper's code uses).

Efficacy / Paraphrase: teacher-forced token accuracy of the target after the edit (or rephrased) prompt, with
``prompt + " " + target_new`` tokenised jointly as EasyEdit's ``test_prediction_acc`` does
(:func:`seqedit.tokens.prompt_target_ids`): the share of target tokens that are the argmax prediction given the
prompt and the previous target tokens. Specificity: on each locality prompt, teacher-forced with its answer
(tokenised the same way), the share of positions where the edited model's argmax token equals the unedited
model's.
"""
from __future__ import annotations

import torch

from ..tokens import prompt_target_ids


@torch.no_grad()
def score_targets(model, tok, prompts: list[str], targets: list[str],
                  batch_size: int = 16) -> list[tuple[list[int], list[int], float]]:
    """For each (prompt, target), teacher-forced on ``prompt + " " + target`` tokenised jointly: the argmax
    predictions at the positions that predict the target's tokens, those tokens (the labels), and the mean
    negative log-probability per target token."""
    device = next(model.parameters()).device
    out: list[tuple[list[int], list[int], float]] = []
    for start in range(0, len(prompts), batch_size):
        ps, ts = prompts[start:start + batch_size], targets[start:start + batch_size]
        joint = [prompt_target_ids(tok, p, t) for p, t in zip(ps, ts)]
        width = max(len(s) for s, _ in joint)
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        ids = torch.full((len(joint), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, (s, _) in enumerate(joint):
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = 1
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        for i, (s, n) in enumerate(joint):
            labels = s[n:]
            rows = logits[i, n - 1: len(s) - 1].float()
            nll = -torch.log_softmax(rows, -1).gather(1, torch.tensor(labels, device=rows.device).unsqueeze(1)).mean()
            out.append((rows.argmax(-1).cpu().tolist(), labels, nll.item()))
    return out


def argmax_at_targets(model, tok, prompts: list[str], targets: list[str], batch_size: int = 16) -> list[list[int]]:
    """For each (prompt, target): argmax predictions at the positions that predict the target's tokens."""
    return [pred for pred, _, _ in score_targets(model, tok, prompts, targets, batch_size)]


class TargetScores:
    """``score_targets`` of (prompt, target) pairs on one model state, each distinct pair computed once: the
    evaluation asks for all its pairs in one :meth:`need` call, then reads them back."""

    def __init__(self, model, tok, batch_size: int = 8):
        self.model, self.tok, self.batch_size = model, tok, batch_size
        self.cache: dict[tuple[str, str], tuple[list[int], list[int], float]] = {}

    def need(self, prompts: list[str], targets: list[str]) -> "TargetScores":
        # sorted by length, so that a batch pads little
        todo = sorted({(p, t) for p, t in zip(prompts, targets)} - set(self.cache), key=lambda x: len(x[0] + x[1]))
        if todo:
            got = score_targets(self.model, self.tok, [p for p, _ in todo], [t for _, t in todo], self.batch_size)
            self.cache.update(zip(todo, got))
        return self

    def argmax(self, prompts: list[str], targets: list[str]) -> list[list[int]]:
        self.need(prompts, targets)
        return [self.cache[(p, t)][0] for p, t in zip(prompts, targets)]

    def nll(self, prompts: list[str], targets: list[str]) -> list[float]:
        self.need(prompts, targets)
        return [self.cache[(p, t)][2] for p, t in zip(prompts, targets)]

    def accuracy(self, prompts: list[str], targets: list[str]) -> list[float]:
        self.need(prompts, targets)
        return [accuracy_of(*self.cache[(p, t)][:2]) for p, t in zip(prompts, targets)]


def accuracy_of(pred: list[int], labels: list[int]) -> float:
    return sum(int(p == t) for p, t in zip(pred, labels)) / len(labels)


def token_accuracy(model, tok, prompts: list[str], targets: list[str]) -> list[float]:
    return [accuracy_of(pred, labels) for pred, labels, _ in score_targets(model, tok, prompts, targets)]


def agreement(before: list[list[int]], after: list[list[int]]) -> list[float]:
    return [sum(int(a == b) for a, b in zip(x, y)) / len(x) for x, y in zip(before, after)]


def locality_pairs(requests: list[dict]) -> tuple[list[int], list[str], list[str]]:
    owner, prompts, answers = [], [], []
    for i, r in enumerate(requests):
        for p, a in zip(r.get("locality_prompts", []), r.get("locality_answers", [])):
            owner.append(i)
            prompts.append(p)
            answers.append(a)
    return owner, prompts, answers


def paraphrase_pairs(requests: list[dict]) -> tuple[list[int], list[str], list[str]]:
    owner, prompts, targets = [], [], []
    for i, r in enumerate(requests):
        for p in r.get("paraphrase_prompts", []):
            owner.append(i)
            prompts.append(p)
            targets.append(r["target_new"])
    return owner, prompts, targets


def per_request_mean(owner: list[int], values: list[float], n: int) -> list[float | None]:
    sums, counts = [0.0] * n, [0] * n
    for o, v in zip(owner, values):
        sums[o] += v
        counts[o] += 1
    return [s / c if c else None for s, c in zip(sums, counts)]


def mean(values) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


# ---------------------------------------------------------------------------------------- the immediate protocol
def base_locality_predictions(model, tok, requests: list[dict]) -> dict[str, list[list[int]]]:
    """``{request id: argmax tokens at its locality prompts}`` on the model as it is (the unedited one)."""
    owner, prompts, answers = locality_pairs(requests)
    preds = argmax_at_targets(model, tok, prompts, answers) if prompts else []
    out: dict[str, list[list[int]]] = {r["id"]: [] for r in requests}
    for o, p in zip(owner, preds):
        out[requests[o]["id"]].append(p)
    return out


def immediate_record(model, tok, request: dict, base_preds: list[list[int]] | None) -> dict:
    """Efficacy / Paraphrase / Specificity of one request on the model right after its edit (token accuracy)."""
    paras = request.get("paraphrase_prompts", [])
    locs, answers = request.get("locality_prompts", []), request.get("locality_answers", [])
    if base_preds is None:
        locs, answers = [], []
    new = [request["target_new"]] * (1 + len(paras))
    scores = TargetScores(model, tok).need([request["prompt"], *paras, *locs], new + answers)  # one batch
    eff = scores.accuracy([request["prompt"]], new[:1])[0]
    par = mean(scores.accuracy(paras, new[1:])) if paras else None
    spe = mean(agreement(base_preds, scores.argmax(locs, answers))) if locs else None
    return {"efficacy": eff, "paraphrase": par, "specificity": spe}


def immediate_from_log(log: list[dict], k: int) -> dict | None:
    """Means of the logged immediate records of the first ``k`` requests (per request first: an MQuAKE case has
    one record per rewrite), or None when a record lacks them (edited with ``--no-immediate-eval``)."""
    recs = [r for r in log if r.get("request", r["edit"]) <= k]
    if not recs or any("immediate" not in r for r in recs):
        return None
    by_request: dict[int, list[dict]] = {}
    for r in recs:
        by_request.setdefault(r.get("request", r["edit"]), []).append(r["immediate"])
    return {key: mean(mean(x[key] for x in group) for group in by_request.values())
            for key in ("efficacy", "paraphrase", "specificity")}
