"""What `compute_dtype: bfloat16` changes (issue 10 item 3): speed, values and edit metrics against fp32 (not a test).

    python benchmarks/bench_compute_dtype.py --model-dir resources/models/smollm2-135m \
        --requests results/data/zsre.jsonl --stats-dir results/stats/smollm2-135m/<key> --offset 900 --n 20

The same --n requests (after --offset: pick a block that no config evaluates) are edited in sequence by each
method, once with the set's own compute dtype (fp32) and once with ``compute_dtype: bfloat16``, from the same base
weights and context templates, at --threads threads. Printed per (method, dtype): amortised seconds per edit, mean
value-optimisation steps, mean reached target probability, and Efficacy / Paraphrase / Specificity after the
last edit (the sequential protocol, token accuracy, as `benchmarks/sweep_hparams.py`). Then, per method, the
relative difference of the value vectors z of the first --z-requests requests on the unedited model (the numeric
effect alone, before the chains' weights diverge).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MODEL, cpu_model, edit_metrics, hparams, load, restore  # noqa: E402

from seqedit.editing import SequentialEditor  # noqa: E402
from seqedit.evaluation import metrics as eval_metrics  # noqa: E402
from seqedit.files import read_jsonl as read_requests  # noqa: E402
from seqedit.methods.value_opt import compute_value  # noqa: E402

DTYPES = ("float32", "bfloat16")


def z_difference(model, tok, editor, reqs, hp_fp32, hp_bf16) -> float:
    """Mean relative |z_bf16 - z_fp32| / |z_fp32| on the current (unedited) weights."""
    method = editor.method
    layer = method.layers[-1] if hasattr(method, "layers") else hp_fp32["layers"][-1]
    site = "mlp" if editor.method_name == "rome" else "layer"
    diffs = []
    for request in reqs:
        a = compute_value(model, tok, editor.arch, request, layer, editor.context_templates, hp_fp32, site)
        b = compute_value(model, tok, editor.arch, request, layer, editor.context_templates, hp_bf16, site)
        diffs.append(((a.target - b.target).norm() / a.target.norm()).item())
    return sum(diffs) / len(diffs)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model-dir", required=True)
    p.add_argument("--requests", required=True)
    p.add_argument("--stats-dir", required=True)
    p.add_argument("--methods", nargs="+", default=["memit", "d4s"])
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--z-requests", type=int, default=3)
    p.add_argument("--hparams-set", default="reference")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    reqs = read_requests(a.requests)[a.offset: a.offset + a.n]
    if len(reqs) < a.n:
        raise SystemExit(f"{a.requests}: only {len(reqs)} requests after --offset {a.offset}")
    model, tok, base = load(a.model_dir)
    loc = eval_metrics.locality_pairs(reqs)
    before = eval_metrics.argmax_at_targets(model, tok, loc[1], loc[2])
    print(f"requests {a.offset + 1}-{a.offset + len(reqs)} of {a.requests}; threads={a.threads} "
          f"hparams={a.hparams_set} cpu={cpu_model()} torch={torch.__version__}")
    print("| method | compute dtype | s/edit | mean z steps | reached p | Eff | Par | Spe |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    z_rows = []
    for method in a.methods:
        hps = {d: hparams(method, a.hparams_set, **({"compute_dtype": d} if d != "float32" else {})) for d in DTYPES}
        templates = None
        for dtype in DTYPES:
            ed = SequentialEditor(model, tok, MODEL, method, hps[dtype], a.stats_dir, context_templates=templates,
                                  immediate_eval=False)
            templates = ed.context_templates  # the same templates for both dtypes
            ed.run(reqs, progress=False)
            secs = sum(r["seconds"] for r in ed.log) / len(ed.log)
            steps = sum(r.get("z_steps") or 0 for r in ed.log) / len(ed.log)
            reached = sum(r["z_prob_last"] for r in ed.log) / len(ed.log)
            eff, par, spe = edit_metrics(model, tok, reqs, before, loc)
            print(f"| {method} | {dtype} | {secs:.2f} | {steps:.1f} | {reached:.3f} | {eff:.3f} | {par:.3f} | "
                  f"{spe:.3f} |", flush=True)
            restore(model, base)
        z_rows.append((method, z_difference(model, tok, ed, reqs[: a.z_requests], hps["float32"], hps["bfloat16"])))
    for method, diff in z_rows:
        print(f"{method}: mean |z_bf16 - z_fp32| / |z_fp32| on the unedited model, first {a.z_requests} requests: "
              f"{diff:.4f}")


if __name__ == "__main__":
    main()
