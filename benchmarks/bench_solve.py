"""D4S's closed-form update per edit and layer: the exact solve against the rank-one path (prints a table).

    python benchmarks/bench_solve.py [--dims 1536 11008] [--threads 2] [--edits 1000]

For each input size d_in (SmolLM2 1536, Llama-2-7B 11008, GPT-J-6B 16384) and d_out: seconds of one exact
``A (B + lambda C0)^-1`` (float64 linear solve, the authors' code) and of one Sherman-Morrison update
(:class:`seqedit.methods.rank_one.IncrementalSolve`), and after --edits rank-one updates (with no re-solve) the
relative difference from the exact solve. C0 is a random well-conditioned second moment (timing depends on the
shape only; the drift on the conditioning, so the real statistics are used by bench_edit.py's D4S run instead).
"""
from __future__ import annotations

import argparse
import time

import torch

from seqedit.methods.rank_one import IncrementalSolve

D_OUT = {1536: 576, 11008: 4096, 16384: 4096}


def bench(d_in: int, d_out: int, edits: int, lam: float = 15000.0) -> dict:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(d_in, d_in + 64, generator=gen, dtype=torch.float64) / d_in ** 0.5
    cov = x @ x.T / (d_in + 64) + 1e-3 * torch.eye(d_in, dtype=torch.float64)
    a = torch.zeros(d_out, d_in, dtype=torch.float64)
    b = torch.zeros(d_in, d_in, dtype=torch.float64)
    solver = IncrementalSolve(a, b, lambda: cov, lam, resolve_every=10**9)
    t0 = time.perf_counter()
    solver.add(torch.randn(d_out, generator=gen, dtype=torch.float64), torch.randn(d_in, generator=gen,
               dtype=torch.float64), 1)
    first = time.perf_counter() - t0  # the exact solve (and M^-1)
    t0 = time.perf_counter()
    exact = torch.linalg.solve(b + lam * cov, a, left=False)
    exact_s = time.perf_counter() - t0
    steps = []
    for t in range(2, edits + 1):
        r = torch.randn(d_out, generator=gen, dtype=torch.float64)
        k = torch.randn(d_in, generator=gen, dtype=torch.float64)
        t0 = time.perf_counter()
        got = solver.add(r, k, t)
        steps.append(time.perf_counter() - t0)
    exact = torch.linalg.solve(b + lam * cov, a, left=False)
    rel = ((got - exact).norm() / exact.norm()).item()
    return {"d_in": d_in, "d_out": d_out, "exact_s": exact_s, "first_s": first,
            "rank_one_s": sorted(steps)[len(steps) // 2], "rel": rel, "edits": edits}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dims", nargs="+", type=int, default=[1536, 11008])
    p.add_argument("--edits", type=int, default=1000)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(f"threads={a.threads} torch={torch.__version__}")
    print("| d_in | d_out | exact solve s | first edit (solve + M^-1) s | rank-one update s (median) | "
          "rel. diff after edits | edits |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for d in a.dims:
        r = bench(d, D_OUT.get(d, d // 4), a.edits)
        print(f"| {r['d_in']} | {r['d_out']} | {r['exact_s']:.3f} | {r['first_s']:.3f} | {r['rank_one_s']:.5f} | "
              f"{r['rel']:.1e} | {r['edits']} |", flush=True)


if __name__ == "__main__":
    main()
