"""``seqedit edit-metrics``: Efficacy / Paraphrase / Specificity of a checkpoint.

Protocol ``sequential`` (the paper's): after k edits, all of the first k requests are evaluated on the current
model. Specificity compares with the unedited model, computed in the same job on the base weights.
"""
from __future__ import annotations

import argparse
import time

from .. import atomic
from ..checkpoints import apply_checkpoint, load_meta
from ..editing import read_requests
from ..models.loading import DTYPES, load_model_and_tokenizer
from . import metrics as M

PROTOCOLS = ("sequential",)


def evaluate(model_dir: str, checkpoint: str, requests_path: str, protocol: str = "sequential",
             dtype: str = "float32", device: str = "auto") -> dict:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown evaluation protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    t0 = time.time()
    meta = load_meta(checkpoint)
    k = meta["n_edits"]
    requests = read_requests(requests_path)[:k]
    if [r["id"] for r in requests] != meta["request_ids"]:
        raise ValueError(f"{checkpoint} was made from other requests than the first {k} of {requests_path}")
    model, tok = load_model_and_tokenizer(model_dir, dtype, device)
    loc_owner, loc_prompts, loc_answers = M.locality_pairs(requests)
    before = M.argmax_at_targets(model, tok, loc_prompts, loc_answers)
    model, meta = apply_checkpoint(model, checkpoint)
    eff = M.token_accuracy(model, tok, [r["prompt"] for r in requests], [r["target_new"] for r in requests])
    par_owner, par_prompts, par_targets = M.paraphrase_pairs(requests)
    par = M.per_request_mean(par_owner, M.token_accuracy(model, tok, par_prompts, par_targets), len(requests))
    spe = M.per_request_mean(loc_owner, M.agreement(before, M.argmax_at_targets(model, tok, loc_prompts, loc_answers)),
                             len(requests))
    return {
        "model": meta["model"], "dataset": meta["dataset"], "method": meta["method"], "n_edits": k,
        "protocol": protocol, "metric_definition": "EasyEdit teacher-forced token accuracy",
        "efficacy": M.mean(eff), "paraphrase": M.mean(par), "specificity": M.mean(spe), "n_requests": len(requests),
        "per_request": [{"id": r["id"], "efficacy": e, "paraphrase": p, "specificity": s}
                        for r, e, p, s in zip(requests, eff, par, spe)],
        "seconds": time.time() - t0,
    }


def cli(command: str, argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog=f"seqedit {command}", description=__doc__.split("\n\n")[0])
    p.add_argument("--model-dir", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--requests", required=True)
    p.add_argument("--protocol", default="sequential")
    p.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    p.add_argument("--device", default="auto")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    result = evaluate(a.model_dir, a.checkpoint, a.requests, a.protocol, a.dtype, a.device)
    atomic.write_json(a.out, result)
    print(f"{result['method']} @ {result['n_edits']}: eff {result['efficacy']:.3f} par {result['paraphrase']} "
          f"spe {result['specificity']}")
