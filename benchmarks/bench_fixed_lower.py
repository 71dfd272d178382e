"""FT, FT-M and GRACE with the blocks below their layer run once per edit (``fixed_lower``, the default) against
the whole model at every step (the references' way): seconds per edit and how far the edits differ (prints; not
a test).

    python benchmarks/bench_fixed_lower.py --model-dir resources/models/smollm2-135m \
        --requests results/data/counterfact.jsonl [--n 4] [--threads 1] [--methods ft grace ft_m]

Each method edits the first --n requests in sequence twice from the same weights (``tuned`` hyperparameters, no
context templates: these methods use none). Printed: seconds per edit both ways, the largest difference of the
edited weights (FT) or the codebook (GRACE) relative to their largest entry, the largest difference of the
reached target probability, and the optimisation steps.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MODEL, cpu_model, hparams, load, restore  # noqa: E402

from seqedit.files import read_jsonl  # noqa: E402
from seqedit.methods import get_method  # noqa: E402
from seqedit.models.registry import get_model_spec  # noqa: E402


def rel_diff(new: dict, old: dict) -> float:
    return max([((new[k].float() - old[k].float()).abs().max() / (old[k].float().abs().max() + 1e-30)).item()
                for k in old] or [0.0])


def edit_all(model, tok, arch, base, method: str, reqs: list[dict], fixed: bool):
    restore(model, base)
    editor = get_method(method)(model, tok, arch, hparams(method, "tuned"), None, [["{}"]])
    editor.fixed_lower = fixed
    t0 = time.perf_counter()
    logs = [editor.edit(r) for r in reqs]
    seconds = (time.perf_counter() - t0) / len(reqs)
    state = {k: v.clone() for k, v in editor.state_dict().items()}
    weights = {n: p.detach().clone() for n, p in model.named_parameters() if not torch.equal(p, base[n])}
    if method == "grace":
        editor.adaptor.remove()
    return seconds, logs, state, weights


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model-dir", required=True)
    p.add_argument("--requests", required=True)
    p.add_argument("--n", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--methods", nargs="+", default=["ft", "grace", "ft_m"])
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model, tok, base = load(a.model_dir)
    reqs = read_jsonl(a.requests)[: a.n]
    arch = get_model_spec(MODEL).architecture
    print(f"first {a.n} requests of {a.requests}; threads={a.threads} hparams=tuned cpu={cpu_model()} "
          f"torch={torch.__version__}")
    for method in a.methods:
        t_old, l_old, s_old, w_old = edit_all(model, tok, arch, base, method, reqs, fixed=False)
        t_new, l_new, s_new, w_new = edit_all(model, tok, arch, base, method, reqs, fixed=True)
        dp = max(abs(x["z_prob_last"] - y["z_prob_last"]) for x, y in zip(l_new, l_old))
        print(f"{method}: whole model {t_old:.2f} s/edit, fixed lower {t_new:.2f} s/edit ({t_old / t_new:.1f}x); "
              f"max rel. diff of edited weights {rel_diff(w_new, w_old):.1e}, of the method state "
              f"{rel_diff(s_new, s_old):.1e}; max |p_last diff| {dp:.1e}; steps {[x['z_steps'] for x in l_new]} "
              f"vs {[x['z_steps'] for x in l_old]}")
    restore(model, base)


if __name__ == "__main__":
    main()
