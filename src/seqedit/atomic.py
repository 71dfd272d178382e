"""Write files atomically: a temporary file in the same folder, then a rename.

Nothing cached is left half written: a killed job leaves either the old file or no file, plus at most a hidden
temporary ``.<name>.<random>.tmp`` (or ``.safetensors``) beside it, which :func:`remove_stale_temporaries` deletes
when the job that writes ``<name>`` starts again (``seqedit`` does so for its ``--out`` / ``--out-dir``).
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


TEMP_SUFFIXES = (".tmp", ".safetensors")


def stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Temporaries left by killed writes of ``path`` or of a sibling with the same stem (``step_2.safetensors``
    and ``step_2.json``); for a folder, the temporaries inside it as well."""
    path = Path(path)
    found = []
    if path.parent.is_dir():
        prefix = f".{path.name.split('.')[0]}."
        found += [f for f in path.parent.iterdir() if f.name.startswith(prefix) and f.name.endswith(TEMP_SUFFIXES)
                  and f.is_file()]
    if path.is_dir():
        found += [f for f in path.iterdir() if f.name.startswith(".") and f.name.endswith(TEMP_SUFFIXES)
                  and f.is_file()]
    return sorted(found)


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Delete :func:`stale_temporaries` of ``path`` (call it when the job writing ``path`` starts); return them."""
    stale = stale_temporaries(path)
    for f in stale:
        f.unlink(missing_ok=True)
    return stale


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj, indent: int = 2) -> None:
    write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False, default=_json_default) + "\n")


def save_safetensors(path: str | os.PathLike, tensors: dict, metadata: dict | None = None) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    with atomic_path(path, suffix=".safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={k: str(v) for k, v in (metadata or {}).items()})


def _json_default(obj):
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
