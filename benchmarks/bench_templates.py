"""Time the context-template sampling of ROME/MEMIT: lockstep with a key/value cache (``seqedit.tokens``) against
the one-at-a-time loop it replaced (kept in tests/test_context_templates.py), and check both give the same
strings (prints a table; not a test).

    python benchmarks/bench_templates.py --model-dir resources/models/smollm2-135m --threads 1
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from common import cpu_model, load  # noqa: E402
from test_context_templates import one_at_a_time  # noqa: E402

from seqedit.tokens import generate_context_templates  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model-dir", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model, tok, _ = load(a.model_dir)
    print(f"threads={a.threads} cpu={cpu_model()} torch={torch.__version__}")
    print("| length params | seed | lockstep s | one at a time s | speed-up | same strings |")
    print("|---|---:|---:|---:|---:|---|")
    for params in ([[5, 10], [10, 10]], [[10, 5]]):  # ROME's, and MEMIT's / PMET's / AlphaEdit's / D4S's
        for seed in a.seeds:
            t0 = time.perf_counter()
            got = generate_context_templates(model, tok, params, seed)
            t1 = time.perf_counter()
            want = one_at_a_time(model, tok, params, seed)
            t2 = time.perf_counter()
            print(f"| {params} | {seed} | {t1 - t0:.2f} | {t2 - t1:.2f} | {(t2 - t1) / (t1 - t0):.1f}x | "
                  f"{got == want} |")


if __name__ == "__main__":
    main()
