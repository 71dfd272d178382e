"""The value optimisation's matrix products on this CPU: PyTorch's default (MKL) against oneDNN on the plain weight
(what the workflow runs with `cpu_matmul: onednn`, seqedit.models.cpu_matmul) and oneDNN with a pre-packed weight
(not used: a packed copy of every weight), for SmolLM2's shapes (prints; not a test).

    python benchmarks/bench_gemm.py [--threads 1]

Rows: MEMIT's suffix tokens through a block's MLP (28 x 576 -> 1536 and back), the output head at 19 scored
positions (forward and the backward's input gradient) and a 4-request D4S block (88 rows). The plain-weight
columns also time the backward's input gradient of the same layer (``grad @ W``, oneDNN on ``W.t()``). Each
weight is a different tensor in a list larger than the core's cache, as in a forward through 21 blocks.
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from common import cpu_model

from seqedit.models.cpu_matmul import _onednn

SHAPES = [(28, 576, 1536, 40), (28, 1536, 576, 40), (19, 576, 49152, 4), (19, 49152, 576, 4), (88, 576, 1536, 40)]


def seconds(fn, items) -> float:
    for item in items[:3]:
        fn(item)
    t0 = time.perf_counter()
    for _ in range(3):
        for item in items:
            fn(item)
    return (time.perf_counter() - t0) / (3 * len(items))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    print(f"threads={a.threads} torch={torch.__version__}")
    print(f"cpu={cpu_model()}")
    print("| rows x in -> out | MKL ms | MKL GFLOP/s | oneDNN plain ms | speed-up | input grad MKL ms | "
          "input grad oneDNN plain ms | speed-up | oneDNN packed ms | oneDNN GFLOP/s | speed-up | max rel. diff |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for rows, d_in, d_out, n in SHAPES:
        weights = [torch.randn(d_out, d_in) for _ in range(n)]
        x = torch.randn(rows, d_in)
        packed = [torch.ops.mkldnn._reorder_linear_weight(w) for w in weights]
        mkl = seconds(lambda w: F.linear(x, w), weights)
        plain = seconds(lambda w: _onednn(x, w, None), weights)
        grad = torch.randn(rows, d_out)
        grad_mkl = seconds(lambda w: grad @ w, weights)
        grad_plain = seconds(lambda w: _onednn(grad, w.t(), None), weights)
        onednn = seconds(lambda w: torch.ops.mkldnn._linear_pointwise(x, w, None, "none", [], ""), packed)
        ref = F.linear(x, weights[0])
        diff = (ref - torch.ops.mkldnn._linear_pointwise(x, packed[0], None, "none", [], "")).abs().max()
        flop = 2 * rows * d_in * d_out
        print(f"| {rows} x {d_in} -> {d_out} | {mkl * 1e3:.3f} | {flop / mkl / 1e9:.0f} | {plain * 1e3:.3f} | "
              f"{mkl / plain:.2f}x | {grad_mkl * 1e3:.3f} | {grad_plain * 1e3:.3f} | {grad_mkl / grad_plain:.2f}x | "
              f"{onednn * 1e3:.3f} | "
              f"{flop / onednn / 1e9:.0f} | {mkl / onednn:.2f}x | {(diff / ref.abs().max()).item():.1e} |")


if __name__ == "__main__":
    main()
