"""D4S's and AlphaEdit's update per edit and layer: the exact solve against the rank-one path (prints tables).

    python benchmarks/bench_solve.py [--dims 1536 11008] [--threads 2] [--edits 1000] [--methods d4s alphaedit]

For each input size d_in (SmolLM2 1536, Llama-2-7B 11008, GPT-J-6B 16384) and d_out: seconds of one exact
``A (B + lambda C0)^-1`` (float64 linear solve, the authors' code) and of one Sherman-Morrison update
(:class:`seqedit.methods.rank_one.IncrementalSolve`), and after --edits rank-one updates (with no re-solve) the
relative difference from the exact solve; the median update over the first and the last 100 edits shows whether
the per-edit cost stays flat along the chain (issue 10: edit 1 to edit 2000). C0 is a random well-conditioned second
moment (timing depends on the shape only; the drift on the conditioning, so the real statistics are used by
bench_edit.py's D4S run instead).
AlphaEdit: the reference's ``solve(P (k k^T + C) + L2 I, P k r^T)`` against
:class:`seqedit.methods.null_space_solve.NullSpaceSolve` (``delta`` + ``add_key``), P projecting onto a random
three-quarters of the space (SmolLM2's wikitext2 threshold leaves ~1000-1250 of 1536), L2 = 10.
"""
from __future__ import annotations

import argparse
import time

import torch

from seqedit.methods.null_space_solve import NullSpaceSolve
from seqedit.methods.rank_one import IncrementalSolve

D_OUT = {1536: 576, 11008: 4096, 16384: 4096}
WINDOW = 100  # edits per window of the flatness columns (the first and the last WINDOW rank-one updates)


def median(values: list[float]) -> float:
    """The upper median (the figure this script has always printed); NaN for no values."""
    return sorted(values)[len(values) // 2] if values else float("nan")


def timings(d_in: int, d_out: int, exact_s: float, first_s: float, steps: list[float], rel: float,
            edits: int) -> dict:
    """One table row: the exact solve, the first edit, the rank-one updates' median overall and over the first
    and the last ``WINDOW`` edits, and the drift from the exact solve."""
    return {"d_in": d_in, "d_out": d_out, "exact_s": exact_s, "first_s": first_s, "rank_one_s": median(steps),
            "early_s": median(steps[:WINDOW]), "late_s": median(steps[-WINDOW:]), "rel": rel, "edits": edits}


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
    return timings(d_in, d_out, exact_s, first, steps, rel, edits)


def bench_alphaedit(d_in: int, d_out: int, edits: int, l2: float = 10.0) -> dict:
    gen = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(d_in, 3 * d_in // 4, generator=gen, dtype=torch.float64))
    p = q @ q.T
    cache = torch.zeros(d_in, d_in, dtype=torch.float64)
    solver = NullSpaceSolve(p, cache, l2, resolve_every=10**9)

    def pair():
        return (torch.randn(d_in, generator=gen, dtype=torch.float64) / d_in ** 0.5,
                torch.randn(d_out, generator=gen, dtype=torch.float64))

    t0 = time.perf_counter()
    k, r = pair()
    solver.delta(k, r, 1)
    first = time.perf_counter() - t0  # the reference's solve and M^-1
    solver.add_key(k)
    steps = []
    for t in range(2, edits + 1):
        k, r = pair()
        t0 = time.perf_counter()
        got = solver.delta(k, r, t)
        solver.add_key(k)
        steps.append(time.perf_counter() - t0)
    cache.sub_(torch.outer(k, k))  # the last edit's solve saw the cache before its key
    kc = k.unsqueeze(1)
    t0 = time.perf_counter()
    exact = torch.linalg.solve(p @ (kc @ kc.T + cache) + l2 * torch.eye(d_in, dtype=torch.float64),
                               p @ kc @ r.unsqueeze(0))
    exact_s = time.perf_counter() - t0
    rel = ((got - exact).norm() / exact.norm()).item()
    return timings(d_in, d_out, exact_s, first, steps, rel, edits)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dims", nargs="+", type=int, default=[1536, 11008])
    p.add_argument("--edits", type=int, default=1000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--methods", nargs="+", choices=["d4s", "alphaedit"], default=["d4s", "alphaedit"])
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(f"threads={a.threads} torch={torch.__version__}")
    for method in a.methods:
        run = bench if method == "d4s" else bench_alphaedit
        print(f"\n{method}, per layer and edit:\n")
        print("| d_in | d_out | exact solve s | first edit (solve + M^-1) s | rank-one update s (median) | "
              f"median, edits 2-{WINDOW + 1} s | median, last {WINDOW} edits s | rel. diff after edits | edits |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for d in a.dims:
            r = run(d, D_OUT.get(d, d // 4), a.edits)
            print(f"| {r['d_in']} | {r['d_out']} | {r['exact_s']:.3f} | {r['first_s']:.3f} | "
                  f"{r['rank_one_s']:.5f} | {r['early_s']:.5f} | {r['late_s']:.5f} | {r['rel']:.1e} | "
                  f"{r['edits']} |", flush=True)


if __name__ == "__main__":
    main()
