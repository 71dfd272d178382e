"""Edit metrics as EasyEdit defines them (the definition the paper's code uses).

Efficacy / Paraphrase: teacher-forced token accuracy of ``" " + target_new`` after the edit (or rephrased)
prompt: the share of target tokens that are the argmax prediction given the prompt and the previous target
tokens. Specificity: on each locality prompt, teacher-forced with its answer, the share of positions where the
edited model's argmax token equals the unedited model's.
"""
from __future__ import annotations

import torch

from ..methods.value_opt import target_token_ids


@torch.no_grad()
def argmax_at_targets(model, tok, prompts: list[str], targets: list[str], batch_size: int = 16) -> list[list[int]]:
    """For each (prompt, target): argmax predictions at the positions that predict the target's tokens."""
    device = next(model.parameters()).device
    out: list[list[int]] = []
    for start in range(0, len(prompts), batch_size):
        ps, ts = prompts[start:start + batch_size], targets[start:start + batch_size]
        p_ids = [tok(p)["input_ids"] for p in ps]
        t_ids = [target_token_ids(tok, t) for t in ts]
        seqs = [a + b for a, b in zip(p_ids, t_ids)]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = 1
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        pred = logits.argmax(-1).cpu()
        for i, (a, b) in enumerate(zip(p_ids, t_ids)):
            out.append(pred[i, len(a) - 1: len(a) - 1 + len(b)].tolist())
    return out


def token_accuracy(model, tok, prompts: list[str], targets: list[str]) -> list[float]:
    preds = argmax_at_targets(model, tok, prompts, targets)
    return [sum(int(p == t) for p, t in zip(pr, target_token_ids(tok, tg))) / len(pr)
            for pr, tg in zip(preds, targets)]


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
