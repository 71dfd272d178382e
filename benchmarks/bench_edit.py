"""Speed benchmark on the real SmolLM2-135M (prints a table; not a test).

    python benchmarks/bench_edit.py --model-dir resources/models/smollm2-135m --requests results/data/counterfact.jsonl \
        --stats-dir results/stats/smollm2-135m/wikitext2-test-100000tok-float32 [--corpus resources/corpus/wikitext2-test.jsonl]

- seconds per edit (median over --n edits) for ROME, MEMIT and D4S with the `reference` hyperparameters
  (25 value-optimisation steps, MEMIT/D4S on five layers), fp32;
- D4S: seconds of edit 1 and edit --d4s-n (its cost must not grow with the number of edits);
- layer statistics: --stats-tokens tokens for the five MEMIT layers in one pass (with --corpus).
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from seqedit.editing import SequentialEditor, read_requests
from seqedit.methods.base import load_hparams
from seqedit.models.loading import load_model_and_tokenizer
from seqedit.models.registry import get_model_spec
from seqedit.stats import collect_second_moments, iter_documents

ROOT = Path(__file__).resolve().parents[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model-dir", required=True)
    p.add_argument("--requests", required=True)
    p.add_argument("--stats-dir", required=True)
    p.add_argument("--corpus", default=None)
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--d4s-n", type=int, default=50)
    p.add_argument("--stats-tokens", type=int, default=300_000)
    p.add_argument("--hparams-set", default="reference")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    requests = read_requests(a.requests)
    model, tok = load_model_and_tokenizer(a.model_dir, "float32", "cpu")
    base = {n: t.detach().clone() for n, t in model.named_parameters() if "mlp.down_proj" in n}
    rows = []
    for method in ("rome", "memit", "d4s"):
        n = a.d4s_n if method == "d4s" else a.n
        hp = load_hparams(ROOT / "config" / "hparams" / f"{method}.yaml", "smollm2-135m", a.hparams_set)
        ed = SequentialEditor(model, tok, "smollm2-135m", method, hp, a.stats_dir)
        ed.run([requests[i % len(requests)] for i in range(n)], progress=False)
        secs = [r["seconds"] for r in ed.log]
        steps = [r.get("z_steps") for r in ed.log]
        rows.append((method, statistics.median(secs[: a.n]), secs[0], secs[-1], len(secs), statistics.mean(steps)))
        with torch.no_grad():
            params = dict(model.named_parameters())
            for name, t in base.items():
                params[name].copy_(t)
    print(f"threads={torch.get_num_threads()} hparams={a.hparams_set} cpu={_cpu()}")
    print(f"{'method':<8}{'median s/edit':>15}{'edit 1 s':>10}{'last edit s':>13}{'edits':>7}{'mean z steps':>14}")
    for method, med, first, last, n, st in rows:
        print(f"{method:<8}{med:>15.2f}{first:>10.2f}{last:>13.2f}{n:>7}{st:>14.1f}")
    if a.corpus:
        arch = get_model_spec("smollm2-135m").architecture
        t0 = time.perf_counter()
        _, count, _ = collect_second_moments(model, tok, arch, [4, 5, 6, 7, 8], iter_documents(a.corpus),
                                             a.stats_tokens, 512, progress=False)
        print(f"layer stats: {count} tokens, layers 4-8 in one pass: {time.perf_counter() - t0:.1f} s")


def _cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
