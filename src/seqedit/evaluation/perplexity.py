"""``seqedit target-perplexity``: perplexity of each request's editing objective under the unedited model.

Per request: ``exp`` of the mean negative log-probability of the tokens of ``target_new`` given the prompt,
teacher forced, with ``prompt + " " + target_new`` tokenised jointly as the edit metrics do
(:func:`seqedit.evaluation.metrics.score_targets`). The file holds the mean and the median of these per-request
perplexities (the paper reports a mean per question type), their geometric mean, ``n`` and every request's value::

    {"model": .., "dataset": .., "n": 20, "mean": 11.9, "median": 8.1, "geometric_mean": 7.7,
     "mean_target_tokens": 1.0, "requests": [{"id": "0", "ppl": 7.2, "target_tokens": 1}, ...]}
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

from ..models import matmul_option
from .metrics import score_targets


def target_perplexities(model, tok, requests: list[dict], batch_size: int = 8) -> list[dict]:
    """``[{"id", "ppl", "target_tokens"}]`` of ``target_new`` after ``prompt``, one per request, in order."""
    if not requests:
        raise ValueError("target perplexity: no requests")
    scores = score_targets(model, tok, [r["prompt"] for r in requests], [r["target_new"] for r in requests],
                           batch_size)
    return [{"id": r["id"], "ppl": math.exp(nll), "target_tokens": len(labels)}
            for r, (_, labels, nll) in zip(requests, scores)]


def summarise(per_request: list[dict]) -> dict:
    """Mean, median and geometric mean of the per-request perplexities, with ``n``."""
    ppls = [p["ppl"] for p in per_request]
    if not ppls:
        raise ValueError("target perplexity: nothing to summarise")
    return {
        "n": len(ppls),
        "mean": statistics.fmean(ppls),
        "median": statistics.median(ppls),
        "geometric_mean": math.exp(statistics.fmean(math.log(p) for p in ppls)),
        "mean_target_tokens": statistics.fmean(p["target_tokens"] for p in per_request),
    }


def perplexity_record(model, tok, requests: list[dict], model_name: str, dataset: str, batch_size: int = 8) -> dict:
    per_request = target_perplexities(model, tok, requests, batch_size)
    return {"model": model_name, "dataset": dataset, **summarise(per_request), "requests": per_request}


def cli(command: str, argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog=f"seqedit {command}", description=__doc__.splitlines()[0])
    p.add_argument("--model-dir", required=True, help="Hugging Face folder of the unedited model")
    p.add_argument("--requests", required=True, help="normalised requests, results/data/{dataset}.jsonl")
    p.add_argument("--out", required=True, help="output JSON, e.g. results/perplexity/{model}/{dataset}.json")
    p.add_argument("--model-name", default=None, help="model name recorded in the file (default: the folder name)")
    p.add_argument("--dataset", default=None, help="dataset name recorded in the file (default: the file stem)")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--device", default="auto")
    matmul_option.add_option(p)
    p.add_argument("--batch-size", type=int, default=8)
    a = p.parse_args(argv)

    from ..atomic import write_json
    from ..files import read_jsonl
    from ..models.loading import load_model_and_tokenizer

    requests = read_jsonl(a.requests)
    if not requests:
        raise SystemExit(f"seqedit {command}: {a.requests} holds no requests")
    model, tok = load_model_and_tokenizer(a.model_dir, dtype=a.dtype, device=a.device, cpu_matmul=a.cpu_matmul)
    rec = perplexity_record(model, tok, requests, a.model_name or Path(a.model_dir).name,
                            a.dataset or Path(a.requests).stem, a.batch_size)
    write_json(a.out, rec)
    print(json.dumps({k: v for k, v in rec.items() if k != "requests"}))
