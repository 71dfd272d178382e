"""Speed and memory of every editing method on the real SmolLM2-135M (prints a table; not a test).

    python benchmarks/bench_edit.py --model-dir resources/models/smollm2-135m \
        --requests results/data/counterfact.jsonl --stats-dir results/stats/smollm2-135m/<key> [--corpus ...]

Each method runs in its own process (so peak memory is its own): the same --n requests edited in sequence with
the `tuned` hyperparameters (--hparams-set), fp32, --threads threads. Printed per method: median seconds per
edit, first and last edit, mean value-optimisation steps, peak resident memory of the process, and the bytes of
one saved checkpoint next to the bytes of the edited tensors plus the method's own state (what a checkpoint must
hold, no more). D4S also runs --d4s-n edits: its cost per edit must stay flat (edit 1 vs edit --d4s-n; the solve
is timed separately because the value optimisation's step count varies per request).
With --corpus: layer statistics of --stats-tokens tokens for layers 4-8 in one pass, in fp32 and in bf16.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import MODEL, cpu_model, hparams, load, restore  # noqa: E402

from seqedit.editing import SequentialEditor  # noqa: E402
from seqedit.files import read_jsonl as read_requests  # noqa: E402
from seqedit.methods import method_names  # noqa: E402
from seqedit.models import matmul_option  # noqa: E402
from seqedit.models.cpu_matmul import use_backend  # noqa: E402


def tensor_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def run_one(a) -> dict:
    """Child process: edit with one method, report timings, peak memory and checkpoint size as JSON."""
    torch.set_num_threads(a.threads)
    if a.no_pack:  # the right-padded suffix batch instead of packed slots (seqedit.methods.packed_suffix)
        from seqedit.methods import upper

        init = upper.UpperForward.__init__
        upper.UpperForward.__init__ = lambda self, *args, **kw: init(self, *args, **{**kw, "pack": False})
    requests = read_requests(a.requests)
    model, tok, base = load(a.model_dir, cpu_matmul=a.cpu_matmul)
    n = a.d4s_n if a.only == "d4s" else a.n
    hp = hparams(a.only, a.hparams_set, **overrides(a.hp))
    ed = SequentialEditor(model, tok, MODEL, a.only, hp, a.stats_dir)
    solve_seconds = []
    if a.only == "d4s":
        from seqedit.methods.rank_one import IncrementalSolve

        add = IncrementalSolve.add

        def timed_add(self, *args, **kw):
            t0 = time.perf_counter()
            out = add(self, *args, **kw)
            solve_seconds.append(time.perf_counter() - t0)
            return out

        IncrementalSolve.add = timed_add
    ed.run([requests[i % len(requests)] for i in range(n)], progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "step.safetensors"
        ed.checkpoint(path, "bench", a.hparams_set)
        ckpt_bytes = path.stat().st_size
    params = dict(model.named_parameters())
    edited = tensor_bytes(params[p] for p in ed.params) if ed.method.edits_weights else 0
    state = tensor_bytes(ed.method.state_dict().values())
    secs = [r["seconds"] for r in ed.log]
    steps = [r.get("z_steps") or 0 for r in ed.log]
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the counting pass
    n_counted = min(a.count_edits, n)
    restore(model, base)  # the same first edits again, on the unedited model, untimed, with their FLOPs counted
    use_backend(model, "torch")  # the counter sees PyTorch's own products (the same FLOPs as oneDNN's)
    recount = SequentialEditor(model, tok, MODEL, a.only, hp, a.stats_dir, context_templates=ed.context_templates)
    gflop = counted_gflop(recount, requests[:n_counted]) if n_counted else None
    per_layer = len(ed.method.layers) if hasattr(ed.method, "layers") else 1
    return {"method": a.only, "n": n, "median": statistics.median(secs[: a.n]), "first": secs[0], "last": secs[-1],
            "amortised": sum(secs) / len(secs),
            "steps": statistics.mean(steps), "peak_rss_mb": peak_rss_mb,
            "ckpt_mb": ckpt_bytes / 2**20, "edited_mb": edited / 2**20, "state_mb": state / 2**20,
            "solve_first": sum(solve_seconds[:per_layer]) if solve_seconds else None,
            "solve_last": sum(solve_seconds[-per_layer:]) if solve_seconds else None,
            "gflop": gflop, "n_counted": n_counted, "counted_seconds": sum(secs[:n_counted]),
            "peak_gflops": gemm_rate(a.cpu_matmul)}


def counted_gflop(ed, requests: list[dict]) -> float | None:
    """Floating-point operations of editing ``requests`` (the timed run's first ones, from the unedited model:
    the same token counts and value-optimisation steps), counted by torch's FlopCounterMode: matrix products and
    attention, forward and backward; GFLOP per edit."""
    from torch.utils.flop_counter import FlopCounterMode

    try:
        with FlopCounterMode(display=False) as counter:
            ed.run(requests, progress=False)
    except Exception as err:  # a method whose ops the counter cannot follow: no figure, not a failed benchmark
        print(f"flop count failed: {err!r}", file=sys.stderr)
        return None
    return counter.get_total_flops() / 1e9 / len(requests)


def gemm_rate(backend: str) -> float:
    """GFLOP/s of one fp32 matrix product of the value optimisation's largest block shape (128 rows x 576 ->
    1536) with its weight in cache, at this process's threads: the rate the edits would reach if every product
    ran like this one. The value optimisation's products each stream a new weight from memory instead."""
    layer = torch.nn.Linear(576, 1536, bias=False).requires_grad_(False)
    use_backend(layer, backend)
    x = torch.randn(128, 576)
    for _ in range(5):
        layer(x)
    reps, t0 = 200, time.perf_counter()
    for _ in range(reps):
        layer(x)
    return 2 * 128 * 576 * 1536 * reps / (time.perf_counter() - t0) / 1e9


def overrides(items: list[str]) -> dict:
    """``--hp KEY=VALUE`` pairs (values parsed as YAML) that replace a method's hyperparameters in every run."""
    import yaml

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--hp expects KEY=VALUE, got {item!r}")
        out[key] = yaml.safe_load(value)
    return out


def stats_bench(a) -> list[str]:
    from seqedit.models.loading import load_model_and_tokenizer
    from seqedit.models.registry import get_model_spec
    from seqedit.stats import collect_second_moments, iter_documents

    torch.set_num_threads(a.threads)
    arch = get_model_spec(MODEL).architecture
    lines, moments = [], {}
    for dtype in ("float32", "bfloat16"):
        model, tok = load_model_and_tokenizer(a.model_dir, dtype, "cpu")
        t0 = time.perf_counter()
        moments[dtype], count, _ = collect_second_moments(model, tok, arch, [4, 5, 6, 7, 8], iter_documents(a.corpus),
                                                          a.stats_tokens, 512, progress=False)
        lines.append(f"layer stats, forward in {dtype}: {count} tokens, layers 4-8 in one pass: "
                     f"{time.perf_counter() - t0:.1f} s")
    from seqedit.methods.base import StatsLoader

    given = StatsLoader(a.stats_dir)  # for scale: another sample size of the same corpus, fp32 forward
    for layer in (4, 8):
        f32, b16 = moments["float32"][layer], moments["bfloat16"][layer]
        other = given.mom2(layer).to(f32.dtype)
        lines.append(f"  layer {layer}: ||C_bf16 - C_fp32|| / ||C_fp32|| = {((b16 - f32).norm() / f32.norm()).item():.4f}"
                     f"; against --stats-dir's C (other sample size, fp32): "
                     f"{((other - f32).norm() / f32.norm()).item():.4f}")
    return lines


def fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def rate(row: dict) -> float | None:
    return row["gflop"] * row["n_counted"] / row["counted_seconds"] if row["gflop"] else None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model-dir", required=True)
    p.add_argument("--requests", required=True)
    p.add_argument("--stats-dir", required=True)
    p.add_argument("--methods", nargs="+", default=None, help="default: every registered method")
    p.add_argument("--corpus", default=None)
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--d4s-n", type=int, default=200)
    p.add_argument("--stats-tokens", type=int, default=300_000)
    p.add_argument("--hparams-set", default="tuned")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--count-edits", type=int, default=4, help="edits whose FLOPs are counted (a second pass)")
    p.add_argument("--hp", action="append", default=[], metavar="KEY=VALUE",
                   help="replace a hyperparameter (or compute setting, e.g. value_block=10) in every method's run")
    p.add_argument("--no-pack", action="store_true",
                   help="run the value optimisation's suffixes as a right-padded batch, not packed slots")
    matmul_option.add_option(p)
    p.add_argument("--only", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.only:
        print(json.dumps(run_one(a)))
        return
    rows = []
    for method in a.methods or method_names():
        argv = [sys.executable, __file__, *sys.argv[1:], "--only", method]
        out = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
        if out.returncode != 0:
            print(f"{method}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"... {method} done", file=sys.stderr, flush=True)
    print(f"threads={a.threads} hparams={a.hparams_set} overrides={overrides(a.hp) or 'none'} "
          f"suffixes={'padded' if a.no_pack else 'packed'} cpu_matmul={a.cpu_matmul} cpu={cpu_model()} "
          f"torch={torch.__version__}")
    print("| method | amortised s/edit | median s/edit | edit 1 s | last edit s | edits | mean z steps | "
          "peak RSS MB | checkpoint MB | edited tensors MB | method state MB | GFLOP/edit | GFLOP/s | "
          "floor s/edit |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['method']} | {r['amortised']:.2f} | {r['median']:.2f} | {r['first']:.2f} | {r['last']:.2f} | "
              f"{r['n']} | {r['steps']:.1f} | {r['peak_rss_mb']:.0f} | {r['ckpt_mb']:.3f} | {r['edited_mb']:.3f} | "
              f"{r['state_mb']:.3f} | {fmt(r['gflop'], '.0f')} | {fmt(rate(r), '.0f')} | "
              f"{fmt(r['gflop'] and r['gflop'] / r['peak_gflops'], '.2f')} |")
    print("(amortised = total editing seconds / edits: D4S optimises the values of `value_block` requests in the "
          "first edit of each block, so its median edit is cheaper than the mean)")
    if rows:
        print(f"GFLOP/edit: the first {rows[0]['n_counted']} edits run again from the unedited model, untimed, "
              "counted by torch's FlopCounterMode (forward + backward products); GFLOP/s = their FLOPs / their "
              f"seconds in the timed run; floor = GFLOP/edit at {rows[0]['peak_gflops']:.0f} GFLOP/s, a 128 x 576 "
              "-> 1536 fp32 product with its weight in cache at these threads")
    for r in rows:
        if r["solve_first"] is not None:
            print(f"{r['method']}: closed-form update over all layers at edit 1 {r['solve_first']:.3f} s (exact "
                  f"solve), at edit {r['n']} {r['solve_last']:.3f} s (resolve_every="
                  f"{hparams(r['method'], a.hparams_set).get('resolve_every', 1)})")
    if a.corpus:
        print("\n".join(stats_bench(a)))


if __name__ == "__main__":
    main()
