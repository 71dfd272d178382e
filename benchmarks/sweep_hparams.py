"""Sweep of MEMIT/D4S's mom2_update_weight (lambda) on SmolLM2: Efficacy after N sequential edits.

EasyEdit's llama-7b value (15000) is calibrated against Llama-2-7B's second moment; on a 135M model the same value
leaves most edits failing. Prints one row per (method, lambda): efficacy, paraphrase, specificity after N edits
(sequential protocol) and the mean final target probability of the value optimisation.

    python benchmarks/sweep_hparams.py --model-dir resources/models/smollm2-135m --offset 1900 \
        --requests results/data/counterfact.jsonl --stats-dir results/stats/smollm2-135m/<key>

Tune on requests the workflow does not evaluate: ``--offset`` skips the first requests (the configs edit the first
n_requests of each file; requests 1901-1920 of the mirror's 2000 CounterFact records are never among them).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MODEL, edit_metrics, hparams, load, restore  # noqa: E402

from seqedit.editing import SequentialEditor  # noqa: E402
from seqedit.files import read_jsonl as read_requests  # noqa: E402
from seqedit.evaluation import metrics as eval_metrics  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model-dir", required=True)
    p.add_argument("--requests", required=True)
    p.add_argument("--stats-dir", required=True)
    p.add_argument("--n", type=int, default=30)
    p.add_argument("--offset", type=int, default=0, help="skip this many requests (tune on a disjoint block)")
    p.add_argument("--methods", nargs="+", default=["memit"])
    p.add_argument("--lambdas", nargs="+", type=float, default=[15000, 5000, 1500, 500])
    a = p.parse_args()
    reqs = read_requests(a.requests)[a.offset: a.offset + a.n]
    if len(reqs) < a.n:
        raise SystemExit(f"{a.requests}: only {len(reqs)} requests after --offset {a.offset}")
    print(f"requests {a.offset + 1}-{a.offset + len(reqs)} of {a.requests}")
    model, tok, base = load(a.model_dir)
    loc_owner, loc_p, loc_a = eval_metrics.locality_pairs(reqs)
    before = eval_metrics.argmax_at_targets(model, tok, loc_p, loc_a)
    print(f"{'method':<7}{'lambda':>9}{'eff':>7}{'par':>7}{'spe':>7}{'z_prob_last':>13}")
    for method in a.methods:
        for lam in a.lambdas:
            hp = hparams(method, "reference", mom2_update_weight=lam)
            ed = SequentialEditor(model, tok, MODEL, method, hp, a.stats_dir)
            ed.run(reqs, progress=False)
            eff, par, spe = edit_metrics(model, tok, reqs, before, (loc_owner, loc_p, loc_a))
            zp = sum(r["z_prob_last"] for r in ed.log) / len(ed.log)
            print(f"{method:<7}{lam:>9g}{eff:>7.3f}{par:>7.3f}{spe:>7.3f}{zp:>13.3f}", flush=True)
            restore(model, base)


if __name__ == "__main__":
    main()
