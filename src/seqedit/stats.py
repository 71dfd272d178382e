"""Layer statistics: the uncentred second moment ``C = E[k k^T]`` of the input ``k`` of each edited layer's MLP
output projection over a text corpus (ROME/MEMIT's ``layer_stats`` with ``mom2``).

All requested layers are collected in one pass; the forward pass stops right after the last layer needed. Every
non-padding token position counts (as the reference). The reference truncates each Wikipedia article to the
model's context; with a small corpus (WikiText) that would waste most of the text, so documents longer than
``max_length`` tokens are split into consecutive chunks of ``max_length`` instead. Chunks are batched by
``batch_tokens``; collection stops after ``n_samples`` documents or ``n_tokens`` tokens, whichever comes first.
Sums are accumulated in float64. One file per layer: ``layer_{L}.safetensors`` with ``mom2`` (stored in ``dtype``)
and ``count``, with the SHA-256 of both in its metadata (verified by :func:`seqedit.stats_file.load_layer_stats`);
the folder name carries corpus, size and dtype, so two corpora never share a file.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from tqdm import tqdm

from . import tensorfile
from .cpu_bf16 import warn_if_emulated
from .models import matmul_option
from .models.loading import DTYPES, load_model_and_tokenizer
from .models.registry import get_model_spec
from .nethooks import capture, run


def iter_documents(corpus_path: str | Path):
    with open(corpus_path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                text = json.loads(line)["text"]
                if text.strip():
                    yield text


@torch.no_grad()
def collect_second_moments(model, tok, arch, layers: list[int], documents, n_tokens: int, max_length: int,
                           n_samples: int | None = None, batch_tokens: int = 4096, progress: bool = True):
    device = next(model.parameters()).device
    names = {layer: arch.mlp_out.format(layer) for layer in layers}
    last = names[max(layers)]
    sums: dict[int, torch.Tensor] = {}
    count = 0
    n_docs = 0
    bar = tqdm(total=n_tokens, unit="tok", desc="layer stats", disable=not progress)
    batch: list[list[int]] = []

    def flush():
        nonlocal count
        width = max(len(x) for x in batch)
        ids = torch.full((len(batch), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, x in enumerate(batch):
            ids[i, : len(x)] = torch.tensor(x)
            mask[i, : len(x)] = 1
        ids, mask = ids.to(device), mask.to(device)
        with capture(model, inputs=list(names.values()), stop_after=last) as st:
            run(model, input_ids=ids, attention_mask=mask)
        keep = mask.bool()
        for layer, name in names.items():
            feats = st[("in", name)][keep].float()
            if arch.transposed is False and feats.shape[-1] == 0:
                raise RuntimeError(f"no features captured at {name}")
            gram = (feats.T @ feats).to(torch.float64)
            if layer in sums:
                sums[layer] += gram
            else:
                sums[layer] = gram
        added = int(keep.sum())
        count += added
        bar.update(added)
        batch.clear()

    for text in documents:
        if count >= n_tokens or (n_samples is not None and n_docs >= n_samples):
            break
        all_ids = tok(text, add_special_tokens=True)["input_ids"]
        n_docs += 1
        for start in range(0, len(all_ids), max_length):
            budget = n_tokens - count - sum(len(x) for x in batch)
            if budget <= 0:
                break
            ids = all_ids[start:start + max_length][:budget]
            batch.append(ids)
            if sum(len(x) for x in batch) >= batch_tokens:
                flush()
    if batch:
        flush()
    bar.close()
    if count == 0:
        raise ValueError("the corpus gave no tokens for layer statistics")
    return {layer: s / count for layer, s in sums.items()}, count, n_docs


def cli(command: str, argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog=f"seqedit {command}", description=__doc__.split("\n\n")[0])
    p.add_argument("--model-dir", required=True)
    p.add_argument("--model-name", required=True, help="registered model name (for the layer names)")
    p.add_argument("--corpus", required=True, help="corpus JSONL ({'text': ...} per line)")
    p.add_argument("--layers", required=True, type=int, nargs="+")
    p.add_argument("--n-tokens", type=int, required=True)
    p.add_argument("--n-samples", type=int, default=None)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--batch-tokens", type=int, default=4096)
    p.add_argument("--dtype", default="float32", choices=sorted(DTYPES), help="dtype of the stored moments")
    p.add_argument("--model-dtype", default="float32", choices=sorted(DTYPES))
    p.add_argument("--device", default="auto")
    matmul_option.add_option(p)
    p.add_argument("--out-dir", required=True)
    a = p.parse_args(argv)
    spec = get_model_spec(a.model_name)
    for layer in a.layers:
        if not 0 <= layer < spec.n_layers:
            raise ValueError(f"layer {layer} out of range for {a.model_name} ({spec.n_layers} layers)")
    model, tok = load_model_and_tokenizer(a.model_dir, a.model_dtype, a.device, a.cpu_matmul)
    warn_if_emulated(a.model_dtype, str(next(model.parameters()).device), "stats.model_dtype")
    t0 = time.time()
    moments, count, n_docs = collect_second_moments(model, tok, spec.architecture, a.layers, iter_documents(a.corpus),
                                                    a.n_tokens, a.max_length, a.n_samples, a.batch_tokens)
    seconds = time.time() - t0
    out = Path(a.out_dir)
    for layer, mom2 in moments.items():
        tensorfile.save(out / f"layer_{layer}.safetensors",
                        {"mom2": mom2.to(DTYPES[a.dtype]), "count": torch.tensor(count)},
                        metadata={"model": a.model_name, "corpus": a.corpus, "n_tokens": count,
                                  "n_documents": n_docs, "layer": layer})
    print(f"layer stats: {count} tokens from {n_docs} documents, layers {a.layers}, {seconds:.1f} s")
