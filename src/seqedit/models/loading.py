"""Load a prepared model folder for editing or evaluation."""
from __future__ import annotations

import warnings

import torch

from . import cpu_matmul as cpu_matmul_backends
from . import matmul_option

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16, "float64": torch.float64}


def resolve_device(device: str | None = "auto") -> str:
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        warnings.warn(f"device {device!r} requested but CUDA is not available: falling back to CPU")
        return "cpu"
    return device


def load_model_and_tokenizer(model_dir: str, dtype: str = "float32", device: str | None = "auto",
                             cpu_matmul: str = matmul_option.DEFAULT):
    """Return ``(model, tokenizer)`` in eval mode with gradients off, tokenizer padded on the right, the linear
    layers' fp32 CPU products run by ``cpu_matmul`` (:mod:`.cpu_matmul`)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {sorted(DTYPES)}")
    matmul_option.check(cpu_matmul)  # before the model loads
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=DTYPES[dtype])
    model.to(resolve_device(device))
    model.eval()
    model.requires_grad_(False)
    cpu_matmul_backends.use_backend(model, cpu_matmul)
    tok = AutoTokenizer.from_pretrained(model_dir)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "right"
    return model, tok
