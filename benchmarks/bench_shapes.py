"""Seconds per edit and peak memory of ROME, MEMIT, D4S and AlphaEdit at GPT-J-6B's and Llama-2-7B's shapes.

    python benchmarks/bench_shapes.py --device cuda --n 3 --json bench_shapes.json   # real shapes, one big GPU
    python benchmarks/bench_shapes.py --tiny --device cpu --n 2                      # every shape scaled down

Random weights (GPTJConfig / LlamaConfig at the real shapes, created on the device; time and memory depend on
shapes, not values), nothing downloaded. The project's own path: ``SequentialEditor`` with the registry names
``gpt-j-6b`` / ``llama-2-7b`` and the ``reference`` hyperparameters, CounterFact-like requests, a tokenizer trained
in a second (tests/tiny_tokenizers.py: it splits words into more tokens than the real ones), random SPD second
moments (float32) written with the checksummed ``tensorfile.save`` and read through ``StatsLoader``.
Printed per (architecture, method): median / first / last seconds per edit (synchronised on GPU), mean value
steps, peak memory (GPU: ``max_memory_allocated``; CPU: peak RSS; reset per method), the memory plan from the
shapes (``plan_gb``) and README 'Memory plan' total; then D4S's closed form at the real d_in (float64,
``IncrementalSolve``): exact solve, exact solve rebuilding ``M^-1`` (``resolve_every > 1``), rank-one update.
A method whose plan exceeds the GPU, that runs out of memory, or that would start after --time-limit seconds is
skipped with a note.
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT / "src", ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from edit_fixtures import REQUESTS  # noqa: E402
from tiny_tokenizers import SENTENCES, byte_level_bpe, llama2_style  # noqa: E402

from seqedit import tensorfile  # noqa: E402
from seqedit.editing import SequentialEditor  # noqa: E402
try:  # the hyperparameter loader's home moved from methods.base to methods.hparams
    from seqedit.methods.hparams import load_hparams  # noqa: E402
except ImportError:
    from seqedit.methods.base import load_hparams  # noqa: E402
from seqedit.methods.rank_one import IncrementalSolve  # noqa: E402
from seqedit.models.loading import DTYPES  # noqa: E402

ARCHS = ["llama-2-7b", "gpt-j-6b"]  # GPT-J last: its AlphaEdit (6 eigendecompositions at d_in 16384) is slowest
METHODS = ["d4s", "memit", "rome", "alphaedit"]  # AlphaEdit last: its first edit eigendecomposes C0 per layer
# hidden, inner (d_in of the edited projection), layers, heads, vocab, positions
SHAPES = {"gpt-j-6b": {"real": (4096, 16384, 28, 16, 50400, 2048), "tiny": (64, 256, 4, 4, 512, 128)},
          "llama-2-7b": {"real": (4096, 11008, 32, 32, 32000, 4096), "tiny": (64, 176, 4, 4, 512, 128)}}
# totals of README.md 'Memory plan' (GB, one 80 GB GPU); float16 and bfloat16 weights take the same bytes
README_PLAN = {("gpt-j-6b", "d4s", 4): "62", ("gpt-j-6b", "d4s", 2): "47", ("llama-2-7b", "d4s", 4): "45",
               ("llama-2-7b", "d4s", 2): "30", ("gpt-j-6b", "memit", 4): "40", ("gpt-j-6b", "rome", 4): "40",
               ("gpt-j-6b", "alphaedit", 4): "near 80"}
GB = 1e9


def build_model(name: str, tiny: bool, dtype: torch.dtype, device: str, seed: int = 0):
    """A randomly initialised model of ``name``'s shapes, created on ``device`` (no copy from the CPU)."""
    from transformers import AutoModelForCausalLM, GPTJConfig, LlamaConfig

    d, f, n_layers, heads, vocab, pos = SHAPES[name]["tiny" if tiny else "real"]
    if name == "gpt-j-6b":
        cfg = GPTJConfig(vocab_size=vocab, n_positions=pos, n_embd=d, n_layer=n_layers, n_head=heads,
                         rotary_dim=d // heads // 4 if tiny else 64, n_inner=f,
                         bos_token_id=min(50256, vocab - 1), eos_token_id=min(50256, vocab - 1))
    else:
        cfg = LlamaConfig(vocab_size=vocab, hidden_size=d, intermediate_size=f, num_hidden_layers=n_layers,
                          num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=pos)
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
    return model.eval().requires_grad_(False)


def templates(tok, length_params) -> list[list[str]]:
    """Fixed context templates of the generated ones' count and token length (a random model's samples would
    decode to ids outside the small tokenizer)."""
    groups = [["{}"]]
    for length, n_gen in length_params:
        n = max(1, n_gen // 5) * 5
        ids = [tok(SENTENCES[i % 6], add_special_tokens=False)["input_ids"][:length] for i in range(n)]
        groups.append([tok.decode(x).replace("{", " ").replace("}", " ") + ". {}" for x in ids])
    return groups


def method_hparams(method: str, name: str, tiny: bool, n_layers: int) -> dict:
    hp = load_hparams(ROOT / "config" / "hparams" / f"{method}.yaml", name, "reference")
    if tiny:  # edited layers inside the 4 tiny layers, a short value optimisation
        hp.update(layers=[1] if method == "rome" else [1, 2], v_loss_layer=n_layers - 1, v_num_grad_steps=3)
    return hp


def random_mom2(d_in: int, device: str, seed: int) -> torch.Tensor:
    """``X X^T / m + 1e-3 I`` for Gaussian ``X`` (d_in x m, m = d_in): SPD, eigenvalues from ~1e-3 to ~4."""
    x = torch.randn(d_in, d_in, generator=torch.Generator(device=device).manual_seed(seed), device=device)
    return torch.addmm(torch.eye(d_in, device=device), x, x.T, beta=1e-3, alpha=1 / d_in)


def write_stats(directory: Path, layers: list[int], d_in: int, device: str) -> None:
    for layer in layers:
        tensorfile.save(directory / f"layer_{layer}.safetensors",
                        {"mom2": random_mom2(d_in, device, seed=layer), "count": torch.tensor(d_in)},
                        metadata={"model": "random", "corpus": "random SPD (bench_shapes)", "layer": layer})


class Peak:
    """Peak GPU memory (the allocator's) or peak resident set size (Linux VmHWM), reset per method."""

    def __init__(self, device: str):
        self.cuda = device.startswith("cuda")
        self.kind = "GPU" if self.cuda else "RSS"

    def reset(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            return
        try:  # "5" resets VmHWM; where it cannot, the process's peak is reported
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self.kind = "RSS (process)"

    def gb(self) -> float:
        if self.cuda:
            return torch.cuda.max_memory_allocated() / GB
        hwm = [ln for ln in Path("/proc/self/status").read_text().splitlines() if ln.startswith("VmHWM:")]
        return int(hwm[0].split()[1]) * 1024 / GB if hwm else math.nan


def plan_gb(method: str, n_params: int, d: int, f: int, wbytes: int, hp: dict) -> float:
    """The memory plan from the shapes (README 'Memory plan' items, plus what the code keeps beyond them)."""
    n, mat, sq = len(hp["layers"]), d * f, f * f
    total = n_params * wbytes + (3 if method == "d4s" else 2) * n * mat * wbytes  # weights, W0 and 'before' copies
    if method != "rome" or hp.get("mom2_adjustment"):
        total += n * sq * 4  # C0, float32
    if method == "memit":
        total += 3 * sq * 8  # one solve: C0 in float64, lambda C0 + k k^T, its LU
    elif method == "d4s":
        total += n * (mat + sq) * 8 + 3 * sq * 8 + 2 * mat * 8  # sums A, B; one solve (M, C0, factor), A M^-1
        if int(hp.get("resolve_every", 1)) > 1:
            total += n * (sq + mat) * 8  # M^-1 and A M^-1 kept per layer (not in the README table)
    elif method == "alphaedit":
        total += 2 * n * sq * 8 + 5 * sq * 8  # P and cache_c per layer; I, K K^T + cache_c, P(...), LU
    return total / GB + 2  # value optimisation: activations of a few short prompts


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def free(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def bench_method(model, tok, name, method, hp, stats_dir, requests, device) -> dict:
    editor = SequentialEditor(model, tok, name, method, hp, stats_dir,
                              context_templates=templates(tok, hp["context_template_length_params"]),
                              immediate_eval=False, hparams_set="reference")
    edit = editor.method.edit

    def synced_edit(request):  # the editor's timer then covers the GPU work of the edit
        out = edit(request)
        sync(device)
        return out

    editor.method.edit = synced_edit
    try:
        editor.run(requests, progress=False)
        secs = [r["seconds"] for r in editor.log]
        steps = statistics.mean(r.get("z_steps") or 0 for r in editor.log)
        return {"median_s": statistics.median(secs), "first_s": secs[0], "last_s": secs[-1], "steps": steps,
                "mean_s": statistics.mean(secs)}  # the mean (JSON only) is D4S's amortised cost over its blocks
    finally:
        params = dict(model.named_parameters())
        with torch.no_grad():  # the next method starts from the same weights
            for name_, w0 in editor.w0.items():
                params[name_].copy_(w0)


def bench_solve(d_out: int, d_in: int, device: str, reps: int = 3) -> dict:
    """D4S's closed form at (d_out, d_in), float64: exact solve, exact + M^-1 rebuild, one rank-one update."""
    gen = torch.Generator(device=device).manual_seed(0)
    cov = random_mom2(d_in, device, seed=1).to(torch.float64)
    out = {}
    for label, every in (("exact_s", 1), ("exact_minv_s", 10**6)):
        solver = IncrementalSolve(torch.zeros(d_out, d_in, dtype=torch.float64, device=device),
                                  torch.zeros(d_in, d_in, dtype=torch.float64, device=device),
                                  lambda: cov, 15000.0, every)
        times = []
        for i in range(1 + (reps if every > 1 else 0)):
            r = torch.randn(d_out, generator=gen, device=device, dtype=torch.float64)
            k = torch.randn(d_in, generator=gen, device=device, dtype=torch.float64)
            sync(device)
            t0 = time.perf_counter()
            solver.add(r, k, i + 1)
            sync(device)
            times.append(time.perf_counter() - t0)
        out[label] = times[0]
        if every > 1:
            out["rank_one_s"] = statistics.median(times[1:])
    return out


def failure(err: Exception) -> str:
    if isinstance(err, torch.OutOfMemoryError):
        return f"skipped: out of memory ({str(err).splitlines()[0]})"[:120]
    traceback.print_exc()
    return f"failed: {type(err).__name__}: {err}"[:120]


def fmt(x, digits: int) -> str:
    return "-" if x is None else f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def dump(json_path: str | None, **results) -> None:
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=1))


def emit(row: dict, rows: list) -> None:
    rows.append(row)
    cols = [row["arch"], row["method"], row["dtype"], row["n"], row.get("median_s"), row.get("first_s"),
            row.get("last_s"), row.get("steps"), row.get("peak_gb"), row.get("plan_gb"), row.get("readme_gb"),
            row.get("note", "")]
    print("| " + " | ".join(fmt(c, 1 if i >= 7 else 3) for i, c in enumerate(cols)) + " |", flush=True)


def bench_arch(name: str, a, methods: list[str], device: str, start: float, rows: list, solves: list) -> None:
    d, f, n_layers = SHAPES[name]["tiny" if a.tiny else "real"][:3]
    base, wbytes = {"arch": name, "dtype": a.dtype, "n": a.n}, DTYPES[a.dtype].itemsize
    requests = [{**REQUESTS[i % len(REQUESTS)], "id": str(i)} for i in range(a.n)]
    peak = Peak(device)
    total = torch.cuda.get_device_properties(0).total_memory / GB if peak.cuda else math.inf
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        try:
            model = build_model(name, a.tiny, DTYPES[a.dtype], device)
        except torch.OutOfMemoryError as err:
            for method in methods:
                emit({**base, "method": method, "note": failure(err)}, rows)
            return free(device)
        n_params = sum(t.numel() for t in model.parameters())
        tok = byte_level_bpe() if name == "gpt-j-6b" else llama2_style(tmp)
        tok.padding_side = "right"  # as models/loading.py sets it
        hps = {m: method_hparams(m, name, a.tiny, n_layers) for m in methods}
        write_stats(Path(tmp), sorted({la for m, hp in hps.items() if m != "rome" for la in hp["layers"]}), f, device)
        free(device)
        print(f"# {name}: {n_params / 1e6:.1f} M parameters, model + tokenizer + statistics "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        for method in methods:
            hp = hps[method]
            row = {**base, "method": method, "plan_gb": plan_gb(method, n_params, d, f, wbytes, hp),
                   "readme_gb": None if a.tiny else README_PLAN.get((name, method, min(wbytes, 4)))}
            if time.perf_counter() - start > a.time_limit:
                row["note"] = f"skipped: --time-limit {a.time_limit:.0f} s reached"
            elif row["plan_gb"] > total:
                row["note"] = f"skipped: plan above the GPU's {total:.0f} GB"
            else:
                peak.reset()
                try:
                    row.update(bench_method(model, tok, name, method, hp, tmp, requests, device))
                    row.update(peak_gb=peak.gb(), note=f"peak {peak.kind}")
                except Exception as err:  # noqa: BLE001 (one failing method must not lose the other rows)
                    row["note"] = failure(err)
                free(device)
            emit(row, rows)
            if method == "d4s" and "median_s" in row:
                try:
                    solves.append({"arch": name, "d_out": d, "d_in": f, "layers": len(hp["layers"]),
                                   **bench_solve(d, f, device)})
                except Exception as err:  # noqa: BLE001
                    print(f"# {name}: D4S solve {failure(err)}", flush=True)
                free(device)
            dump(a.json, rows=rows, d4s_solve=solves)
        del model, tok
    free(device)


def print_solves(solves: list[dict]) -> None:
    print("\nD4S closed form per layer, float64 (per edit = x layers):")
    print("| arch | d_out x d_in | layers | exact solve s | exact + M^-1 s | rank-one s "
          "| per edit exact / rank-one s |")
    print("|---|---|---:|---:|---:|---:|---|")
    for s in solves:
        print(f"| {s['arch']} | {s['d_out']} x {s['d_in']} | {s['layers']} | {s['exact_s']:.4f} | "
              f"{s['exact_minv_s']:.4f} | {s['rank_one_s']:.5f} | {s['exact_s'] * s['layers']:.3f} / "
              f"{s['rank_one_s'] * s['layers']:.4f} |")


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto", help="auto, cuda or cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    p.add_argument("--archs", nargs="+", default=ARCHS, help=f"of {ARCHS} (space or comma separated)")
    p.add_argument("--methods", nargs="+", default=METHODS, help=f"of {METHODS}, run in this order")
    p.add_argument("--n", type=int, default=3, help="sequential edits per method")
    p.add_argument("--tiny", action="store_true", help="every shape scaled down (hidden 64, 4 layers)")
    p.add_argument("--time-limit", type=float, default=540, help="start no method after this many seconds")
    p.add_argument("--json", default=None, help="also write the rows here (after every row)")
    a = p.parse_args(argv)
    archs = [x for s in a.archs for x in s.split(",") if x]
    methods = [x for s in a.methods for x in s.split(",") if x]
    for x in archs + methods:
        if x not in ARCHS + METHODS:
            p.error(f"unknown architecture or method {x!r}")
    device = ("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device
    hw = torch.cuda.get_device_name() if device.startswith("cuda") else f"CPU, {torch.get_num_threads()} threads"
    print(f"bench_shapes: {'tiny' if a.tiny else 'real'} shapes, {a.dtype} weights, {device} ({hw}), "
          f"torch {torch.__version__}, {a.n} edits per method", flush=True)
    print("| arch | method | dtype | n | median s/edit | first s | last s | steps | peak GB | plan GB | README GB "
          "| note |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|", flush=True)
    start, rows, solves = time.perf_counter(), [], []
    for name in archs:
        bench_arch(name, a, methods, device, start, rows, solves)
    if solves:
        print_solves(solves)
    dump(a.json, hardware=hw, args=vars(a), rows=rows, d4s_solve=solves)
    print(f"total {time.perf_counter() - start:.1f} s", flush=True)
    return rows


if __name__ == "__main__":
    main()
