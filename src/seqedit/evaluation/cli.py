"""``seqedit edit-metrics``: Efficacy / Paraphrase / Specificity of a checkpoint, and the dataset's own metrics.

Two protocols (config ``evaluation.protocol`` picks the one behind the top-level numbers; both are in
``protocols``):

- ``sequential`` (the paper's): after k edits, all of the first k requests are evaluated on the current model.
  Specificity compares with the unedited model, computed in the same job on the base weights. For an MQuAKE case
  the efficacy is the mean over its rewrites (each on its own cloze prompt); it has no paraphrase or locality
  prompts.
- ``immediate``: each request evaluated right after its own edit, as logged by ``seqedit edit``
  (:mod:`seqedit.editing`); the numbers are the means of the logged records of the first k requests (per request
  first: an MQuAKE case has one record per rewrite). ``per_request`` always holds the sequential values.

CounterFact-like data (true targets, locality prompts answered by them; :func:`counterfact.is_counterfact_like`)
adds ROME's probability metrics and generation fluency (``counterfact``, see :mod:`.counterfact`), with the
fluency of the unedited model on the same prompts and seed (``fluency_base``). MQuAKE adds multi-hop and single-hop
accuracy (``mquake``, see :mod:`.mquake`), over the cases edited so far.

``--unedited --n-requests N`` (no checkpoint) runs the same code on the unedited model and the first N requests:
the 0-edit reference of the tables (``n_edits`` 0, ``unedited`` true, no method). With no edit made, both
protocols evaluate the same model, so ``protocols`` holds the sequential numbers under each name.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from .. import atomic
from ..checkpoints import load_meta
from ..methods import apply_checkpoint
from ..files import read_jsonl
from ..models import matmul_option
from ..models.loading import DTYPES, load_model_and_tokenizer
from . import counterfact, metrics, mquake
from .options import PROTOCOLS, EvalOptions, check_protocol

def efficacy_pairs(requests: list[dict]) -> tuple[list[int], list[str], list[str]]:
    """(owner, prompt, target_new) of each edit prompt; an MQuAKE case has one per rewrite."""
    owner, prompts, targets = [], [], []
    for i, r in enumerate(requests):
        for rw in r.get("requested_rewrites") or [r]:
            owner.append(i)
            prompts.append(rw["prompt"])
            targets.append(rw["target_new"])
    return owner, prompts, targets


def sequential_efficacy(model, tok, requests: list[dict], scores: metrics.TargetScores | None = None) -> list[float]:
    """Token accuracy of target_new after the edit prompt; for an MQuAKE case the mean over its rewrites."""
    owner, prompts, targets = efficacy_pairs(requests)
    scores = scores or metrics.TargetScores(model, tok)
    return metrics.per_request_mean(owner, scores.accuracy(prompts, targets), len(requests))


def unedited_meta(model_dir: str, requests_path: str, n_requests: int | None, model_name: str | None = None,
                  dataset: str | None = None) -> dict:
    """What a checkpoint's meta would say for the unedited model: no method, 0 edits, the first ``n_requests``
    request ids of the file (model and dataset names default to the folder's and the file's names)."""
    if isinstance(n_requests, bool) or not isinstance(n_requests, int) or n_requests < 1:
        raise ValueError(f"the unedited model needs --n-requests >= 1, got {n_requests!r}")
    ids = [r["id"] for r in read_jsonl(requests_path)[:n_requests]]
    if len(ids) < n_requests:
        raise ValueError(f"{requests_path} holds {len(ids)} requests, fewer than --n-requests {n_requests}")
    return {"model": model_name or Path(model_dir).name, "dataset": dataset or Path(requests_path).stem,
            "method": None, "n_edits": 0, "request_ids": ids, "log": []}


def evaluate(model_dir: str, checkpoint: str | None, requests_path: str, protocol: str = "sequential",
             dtype: str = "float32", device: str = "auto", options: EvalOptions | None = None,
             n_requests: int | None = None, model_name: str | None = None, dataset: str | None = None,
             cpu_matmul: str = matmul_option.DEFAULT) -> dict:
    """The metrics of ``checkpoint`` on the requests it edited; ``checkpoint`` None: of the unedited model on the
    first ``n_requests`` requests (:func:`unedited_meta`)."""
    check_protocol(protocol)
    opts = options or EvalOptions()
    opts.check()
    t0 = time.time()
    unedited = checkpoint is None
    if not unedited and n_requests is not None:
        raise ValueError("--n-requests is for the unedited model: a checkpoint evaluates the requests it edited")
    meta = unedited_meta(model_dir, requests_path, n_requests, model_name, dataset) if unedited \
        else load_meta(checkpoint)
    k = len(meta["request_ids"]) if unedited else meta["n_edits"]
    requests = read_jsonl(requests_path)[:k]
    if [r["id"] for r in requests] != meta["request_ids"]:
        raise ValueError(f"{checkpoint} was made from other requests than the first {k} of {requests_path}")
    immediate = None if unedited else metrics.immediate_from_log(meta["log"], k)
    if protocol == "immediate" and immediate is None and not unedited:
        raise ValueError(f"config evaluation.protocol is 'immediate' but {checkpoint} has no immediate evaluation "
                         "records (it was edited with --no-immediate-eval)")
    is_mquake = any(r.get("requested_rewrites") for r in requests)
    is_cf = not is_mquake and counterfact.is_counterfact_like(requests)
    mq_prompt = (mquake.load_prompt(opts.mquake_prompt, opts.mquake_prompt_file, opts.mquake_fewshot)
                 if is_mquake else None)  # a missing prompt file stops the job before the model loads
    model, tok = load_model_and_tokenizer(model_dir, dtype, device, cpu_matmul)

    # on the unedited model
    loc_owner, loc_prompts, loc_answers = metrics.locality_pairs(requests)
    before = metrics.argmax_at_targets(model, tok, loc_prompts, loc_answers)
    gen_prompts = counterfact.generation_prompts(requests, opts.fluency_prompts) if is_cf else []
    fluency_base = counterfact.fluency(model, tok, gen_prompts, opts.fluency_tokens, opts.seed) if gen_prompts else None
    mq_before = (mquake.pre_edit(model, tok, requests, mq_prompt, opts.mquake_match, opts.mquake_tokens)
                 if is_mquake else None)

    if not unedited:
        model, meta = apply_checkpoint(model, checkpoint)
    scores = metrics.TargetScores(model, tok)  # every (prompt, target) pair of this checkpoint, scored once
    _, eff_prompts, eff_targets = efficacy_pairs(requests)
    par_owner, par_prompts, par_targets = metrics.paraphrase_pairs(requests)
    cf_prompts, cf_targets = counterfact.probability_pairs(requests) if is_cf else ([], [])
    scores.need(eff_prompts + par_prompts + loc_prompts + cf_prompts,
                eff_targets + par_targets + loc_answers + cf_targets)
    eff = sequential_efficacy(model, tok, requests, scores)
    par = metrics.per_request_mean(par_owner, scores.accuracy(par_prompts, par_targets), len(requests))
    agree = metrics.agreement(before, scores.argmax(loc_prompts, loc_answers))
    spe = metrics.per_request_mean(loc_owner, agree, len(requests))
    sequential = {"efficacy": metrics.mean(eff), "paraphrase": metrics.mean(par), "specificity": metrics.mean(spe)}
    if unedited:  # no edit made: every protocol evaluates this same model
        immediate = dict(sequential)
    protocols = {"sequential": sequential,
                 "immediate": immediate or {"efficacy": None, "paraphrase": None, "specificity": None}}
    top = protocols[protocol]
    result = {
        "model": meta["model"], "dataset": meta["dataset"], "method": meta["method"], "n_edits": meta["n_edits"],
        **({"unedited": True} if unedited else {}),
        "protocol": protocol, "metric_definition": "EasyEdit teacher-forced token accuracy",
        "efficacy": top["efficacy"], "paraphrase": top["paraphrase"], "specificity": top["specificity"],
        "n_requests": len(requests),
        "per_request": [{"id": r["id"], "efficacy": e, "paraphrase": p, "specificity": s}
                        for r, e, p, s in zip(requests, eff, par, spe)],
        "protocols": protocols,
    }
    if is_cf:
        block = counterfact.probability_metrics(model, tok, requests, scores)
        block["fluency"] = (counterfact.fluency(model, tok, gen_prompts, opts.fluency_tokens, opts.seed)
                            if gen_prompts else None)
        block["fluency_base"] = fluency_base
        block["n_generation_prompts"] = len(gen_prompts)
        result["counterfact"] = block
    if is_mquake:
        block, per_case = mquake.mquake_metrics(model, tok, requests, mq_prompt, opts.mquake_match,
                                                opts.mquake_tokens, before=mq_before)
        result["mquake"] = block
        for entry, extra in zip(result["per_request"], per_case):
            entry.update(extra)
    result["seconds"] = time.time() - t0
    return result


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def cli(command: str, argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog=f"seqedit {command}", description=__doc__.split("\n\n")[0])
    p.add_argument("--model-dir", required=True)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--checkpoint", help="step_{k}.safetensors of `seqedit edit` (its .json beside it)")
    which.add_argument("--unedited", action="store_true",
                       help="no checkpoint: the unedited model (0 edits) on the first --n-requests requests")
    p.add_argument("--n-requests", type=int, help="with --unedited: how many requests (the longest chain's)")
    p.add_argument("--model-name", help="with --unedited: the model's name (default: the folder's name)")
    p.add_argument("--dataset", help="with --unedited: the dataset's name (default: the requests file's name)")
    p.add_argument("--requests", required=True)
    p.add_argument("--protocol", default="sequential", help=f"one of {', '.join(PROTOCOLS)}")
    p.add_argument("--fluency-prompts", type=int, default=EvalOptions.fluency_prompts,
                   help="evaluation.fluency.n_prompts: generation prompts for the fluency (CounterFact)")
    p.add_argument("--fluency-tokens", type=int, default=EvalOptions.fluency_tokens,
                   help="evaluation.fluency.max_new_tokens")
    p.add_argument("--mquake-tokens", type=int, default=EvalOptions.mquake_tokens,
                   help="evaluation.mquake.max_new_tokens")
    p.add_argument("--mquake-fewshot", type=int, default=EvalOptions.mquake_fewshot,
                   help="evaluation.mquake.n_fewshot")
    p.add_argument("--mquake-match", default=EvalOptions.mquake_match, help="evaluation.mquake.match")
    p.add_argument("--mquake-prompt", default=EvalOptions.mquake_prompt, help="evaluation.mquake.prompt")
    p.add_argument("--mquake-prompt-file", default=None,
                   help="with --mquake-prompt mquake: the JSON of `seqedit download-data --prompt mquake_multihop`")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    p.add_argument("--device", default="auto")
    matmul_option.add_option(p)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    opts = EvalOptions(a.fluency_prompts, a.fluency_tokens, a.mquake_tokens, a.mquake_fewshot, a.mquake_match,
                       a.seed, mquake_prompt=a.mquake_prompt, mquake_prompt_file=a.mquake_prompt_file)
    if not a.unedited and (a.n_requests is not None or a.model_name or a.dataset):
        p.error("--n-requests, --model-name and --dataset go with --unedited")
    result = evaluate(a.model_dir, a.checkpoint, a.requests, a.protocol, a.dtype, a.device, opts, a.n_requests,
                      a.model_name, a.dataset, a.cpu_matmul)
    atomic.write_json(a.out, result)
    who = "unedited" if a.unedited else result["method"]
    line = (f"{who} @ {result['n_edits']} ({result['protocol']}, {result['n_requests']} requests): "
            f"eff {_fmt(result['efficacy'])} "
            f"par {_fmt(result['paraphrase'])} spe {_fmt(result['specificity'])}")
    if "counterfact" in result:
        cf = result["counterfact"]
        line += (f"; CF score {_fmt(cf['score'])} fluency {_fmt(cf['fluency'])} (base {_fmt(cf['fluency_base'])})")
    if "mquake" in result:
        mq = result["mquake"]
        line += f"; multi-hop {_fmt(mq['multi_hop_accuracy'])} single-hop {_fmt(mq['single_hop_accuracy'])}"
    print(f"{line}; {result['seconds']:.1f} s")
