"""Safetensors files that carry a checksum of their tensors, verified on load.

``save(path, tensors, metadata)`` writes atomically (:mod:`seqedit.atomic`) and stores ``sha256`` in the file's
metadata: the SHA-256 over every tensor in name order (name, dtype, shape, then the raw bytes). ``load(path,
rebuild=...)`` recomputes it; a mismatch (a flipped byte), a truncated or unreadable file raises
:class:`CorruptFileError` naming the file and how to rebuild it, instead of a bare ``SafetensorError``.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from . import atomic

CHECKSUM_KEY = "sha256"


class CorruptFileError(RuntimeError):
    """A tensor file that cannot be trusted: truncated, unreadable or not matching its checksum."""


def tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        h.update(f"{name}|{str(t.dtype).removeprefix('torch.')}|{list(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict | None = None) -> str:
    """Write ``tensors`` with their checksum in the metadata; return the checksum."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    digest = tensors_sha256(tensors)
    atomic.save_safetensors(path, tensors, metadata={**(metadata or {}), CHECKSUM_KEY: digest})
    return digest


def load(path: str | Path, rebuild: str, device: str = "cpu", require_checksum: bool = True
         ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Return ``(tensors, metadata)`` after checking the file against its checksum.

    ``rebuild`` says how to make the file again (put into every error). A file without a checksum is refused unless
    ``require_checksum`` is false (e.g. precomputed statistics from elsewhere)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; {rebuild}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = dict(f.metadata() or {})
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise CorruptFileError(f"{path} is truncated or not a safetensors file ({err}); {rebuild}") from err
    want = metadata.get(CHECKSUM_KEY)
    if want is None:
        if require_checksum:
            raise CorruptFileError(f"{path} carries no {CHECKSUM_KEY} checksum (written by an older version); "
                                   f"{rebuild}")
    elif tensors_sha256(tensors) != want:
        raise CorruptFileError(f"{path} does not match its {CHECKSUM_KEY} checksum (the file is corrupted); "
                               f"{rebuild}")
    if device != "cpu":
        tensors = {k: v.to(device) for k, v in tensors.items()}
    return tensors, metadata


def rebuild_hint(path: str | Path, rule: str) -> str:
    """How to rebuild a workflow output that turned out corrupted."""
    return (f"delete it and rerun snakemake, or rebuild it with `snakemake --cores all --forcerun {path}` "
            f"(rule {rule})")
