"""``seqedit general-perplexity``: held-out language-modelling perplexity of the base model or of an edit checkpoint.

A general-ability measure sensitive enough for small models (issue 9): lm-eval accuracy on a few hundred items has a
standard error of ~3.5 points, while the mean token NLL of a fixed text changes measurably with every edit.

Text: a registered corpus (:data:`seqedit.data.registry.CORPORA`, by default ``wikitext2-train-excerpt``: the
WikiText-2 *train* excerpt of the data mirror, disjoint from the layer statistics' WikiText-2 *test*), its documents
in order joined by a blank line (``"\\n\\n"``) and tokenised without special tokens, one document at a time, until
``n_tokens`` tokens are collected. The stream is cut into ``n_tokens / block_length`` fixed, non-overlapping blocks
(the first ``n_tokens`` tokens, whatever the model's edits: every checkpoint scores the same blocks). Each block is
scored alone, teacher forced: its mean NLL (nats) over the ``block_length - 1`` predicted positions (the first
token has no context). The file keeps every block's NLL, so two models can be compared per block (paired)::

    {"model": .., "dataset": .. | null, "method": .. | null, "n_edits": 0, "checkpoint": .. | null,
     "corpus": "wikitext2-train-excerpt", "source": <file or hub id>, "text_sha256": <file's sha256> | null,
     "tokens_sha256": <sha256 of the blocks' token ids>, "n_tokens": 16384, "block_length": 512, "n_blocks": 32,
     "scored_tokens": 16352, "mean_nll": 3.1, "perplexity": 22.2, "block_nll": [3.0, ...], ...}
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from pathlib import Path
from typing import Iterable, Sequence

from ..models import matmul_option

SEPARATOR = "\n\n"  # between two documents of the corpus


def check_sizes(n_tokens: int, block_length: int) -> int:
    """The number of blocks; ``n_tokens`` must be a positive multiple of ``block_length`` (at least 2)."""
    if block_length < 2:
        raise ValueError(f"general perplexity: block_length must be at least 2, got {block_length}")
    if n_tokens < block_length or n_tokens % block_length:
        raise ValueError(f"general perplexity: n_tokens ({n_tokens}) must be a positive multiple of block_length "
                         f"({block_length})")
    return n_tokens // block_length


def token_blocks(tok, documents: Iterable[str], n_tokens: int, block_length: int) -> list[list[int]]:
    """The first ``n_tokens`` tokens of the documents (joined by :data:`SEPARATOR`), cut into blocks of
    ``block_length``. Raises when the text has fewer tokens."""
    n_blocks = check_sizes(n_tokens, block_length)
    ids: list[int] = []
    for i, doc in enumerate(documents):
        ids += tok(doc if i == 0 else SEPARATOR + doc, add_special_tokens=False)["input_ids"]
        if len(ids) >= n_tokens:
            break
    if len(ids) < n_tokens:
        raise ValueError(f"general perplexity: the text has {len(ids)} tokens, fewer than n_tokens = {n_tokens}")
    return [ids[b * block_length:(b + 1) * block_length] for b in range(n_blocks)]


def tokens_digest(blocks: Sequence[Sequence[int]]) -> str:
    """sha256 of the blocks' token ids: equal for two files exactly when they scored the same tokens."""
    return hashlib.sha256(json.dumps([list(b) for b in blocks]).encode()).hexdigest()


def block_nlls(model, blocks: Sequence[Sequence[int]], batch_size: int | None = None) -> list[float]:
    """Mean NLL (nats) of each block's tokens 2..L given the tokens before them in the block, teacher forced.
    ``batch_size`` blocks per forward pass (speed and memory only): default 1 on the CPU (no faster batched, and
    the logits of 4 blocks of 512 over a 49k vocabulary take 0.4 GB), 8 on a GPU."""
    import torch
    import torch.nn.functional as functional

    device = next(model.parameters()).device
    batch_size = batch_size or (8 if device.type == "cuda" else 1)
    out: list[float] = []
    with torch.no_grad():
        for start in range(0, len(blocks), batch_size):
            ids = torch.tensor(blocks[start:start + batch_size], dtype=torch.long, device=device)
            logits = model(input_ids=ids).logits[:, :-1].float()
            nll = functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1),
                                           reduction="none").view(ids.shape[0], -1)
            out += nll.double().mean(dim=1).tolist()
    return out


def summarise(nlls: Sequence[float], block_length: int) -> dict:
    """Mean NLL over the blocks (equal sizes: the token mean), its perplexity, and the counts."""
    if not nlls:
        raise ValueError("general perplexity: no blocks")
    mean = math.fsum(nlls) / len(nlls)
    return {"n_tokens": len(nlls) * block_length, "block_length": block_length, "n_blocks": len(nlls),
            "scored_tokens": len(nlls) * (block_length - 1), "mean_nll": mean, "perplexity": math.exp(mean),
            "block_nll": list(nlls)}


def corpus_text(corpus: str, mirror: str | None) -> tuple[str, str | None, Iterable[str]]:
    """``(source, sha256 of the source file or None, documents)`` of a registered corpus."""
    from ..data.corpus import iter_documents
    from ..files import sha256_file

    source, docs = iter_documents(corpus, mirror)
    digest = sha256_file(source) if Path(source).is_file() else None
    return source, digest, docs


def general_perplexity(model_dir: str, out: str, corpus: str, n_tokens: int, block_length: int,
                       checkpoint: str | None = None, mirror: str | None = None, model_name: str | None = None,
                       dtype: str = "float32", device: str = "auto", batch_size: int | None = None,
                       cpu_matmul: str = matmul_option.DEFAULT) -> dict:
    """Score the corpus blocks with the base model in ``model_dir`` (``checkpoint`` applied in memory); write
    ``out`` and return the record."""
    from ..atomic import write_json
    from ..models.loading import load_model_and_tokenizer

    start = time.time()
    check_sizes(n_tokens, block_length)
    source, text_sha256, docs = corpus_text(corpus, mirror)
    model, tok = load_model_and_tokenizer(model_dir, dtype=dtype, device=device, cpu_matmul=cpu_matmul)
    blocks = token_blocks(tok, docs, n_tokens, block_length)
    meta: dict = {}
    if checkpoint:
        from ..methods import apply_checkpoint

        model, meta = apply_checkpoint(model, checkpoint)
    rec = {
        "model": meta.get("model") or model_name or Path(model_dir).name,
        "dataset": meta.get("dataset"), "method": meta.get("method"), "n_edits": int(meta.get("n_edits", 0)),
        "checkpoint": str(checkpoint) if checkpoint else None,
        "corpus": corpus, "source": source, "text_sha256": text_sha256, "tokens_sha256": tokens_digest(blocks),
        **summarise(block_nlls(model, blocks, batch_size), block_length),
        "dtype": dtype, "device": str(next(model.parameters()).device), "cpu_matmul": cpu_matmul,
        "seconds": round(time.time() - start, 3),
    }
    write_json(out, rec)
    return rec


def cli(command: str, argv: list[str]) -> None:
    from ..data.registry import CORPORA
    from ..mirror import mirror_root

    p = argparse.ArgumentParser(prog=f"seqedit {command}", description=__doc__.splitlines()[0])
    p.add_argument("--model-dir", required=True, help="base model, Hugging Face folder")
    p.add_argument("--checkpoint", default=None, help="edit checkpoint step_{k}.safetensors (omit: base model)")
    p.add_argument("--corpus", required=True, help=f"one of: {', '.join(sorted(CORPORA))}")
    p.add_argument("--n-tokens", type=int, required=True, help="tokens scored (a multiple of --block-length)")
    p.add_argument("--block-length", type=int, required=True, help="tokens per block")
    p.add_argument("--mirror", default=None, help="data mirror root (default: $SEQEDIT_MIRROR_DIR, set by the "
                   "workflow from config data_mirror)")
    p.add_argument("--out", required=True, help="output JSON, e.g. results/perplexity_general/{model}/base.json")
    p.add_argument("--model-name", default=None, help="model name recorded for the base model (default: folder)")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--device", default="auto")
    matmul_option.add_option(p)
    p.add_argument("--batch-size", type=int, default=None,
                   help="blocks per forward pass (speed and memory, not the result; default 1 on CPU, 8 on GPU)")
    a = p.parse_args(argv)
    rec = general_perplexity(a.model_dir, a.out, a.corpus, a.n_tokens, a.block_length, a.checkpoint,
                             mirror_root(a.mirror), a.model_name, a.dtype, a.device, a.batch_size,
                             a.cpu_matmul)
    print(json.dumps({k: v for k, v in rec.items() if k != "block_nll"}))
