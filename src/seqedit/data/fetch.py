"""Fetch a registered raw dataset file: from a local data mirror when one is given, else from its canonical URL.

Every write is atomic. Beside the output a small provenance file ``<stem>.source.json`` records where the bytes
came from and their sha256, because a mirror may hold a sample or another format of the dataset (for instance
the EasyEdit split of CounterFact) under the same dataset name.
"""
from __future__ import annotations

import json
import os
import shutil
import urllib.request
import zipfile
from pathlib import Path

from ..atomic import atomic_path, write_json
from ..files import sha256_file
from .registry import get_dataset_spec

DEFAULT_TIMEOUT = 60.0


class DownloadError(RuntimeError):
    pass


def provenance_path(out: str | os.PathLike) -> Path:
    out = Path(out)
    return out.with_name(out.stem + ".source.json")


def _check_json(path: Path) -> None:
    """Raise ValueError unless ``path`` holds a JSON document or JSON lines (catches HTML error pages)."""
    text = path.read_text(encoding="utf-8")
    try:
        json.loads(text)
    except json.JSONDecodeError:
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            raise ValueError("empty file") from None
        json.loads(lines[0])  # JSON lines: the first line must parse


def _download_url(url: str, dest: Path, timeout: float) -> None:
    req = urllib.request.Request(url, headers={"User-Agent": "seqedit/0.1 (knowledge-editing reproduction)"})
    with urllib.request.urlopen(req, timeout=timeout) as resp, open(dest, "wb") as f:
        shutil.copyfileobj(resp, f, length=1 << 20)


def download_dataset(
    name: str,
    out: str | os.PathLike,
    mirror: str | os.PathLike | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    allow_download: bool = True,
) -> dict:
    """Write the raw file of dataset ``name`` to ``out``; return its provenance record.

    With ``mirror``, the registry's mirror files are tried in order and the first that exists is copied. If none
    exists (or there is no mirror) the canonical URLs are tried, unless ``allow_download`` is false. When nothing
    works, ``DownloadError`` lists every location tried and why it failed.
    """
    spec = get_dataset_spec(name)
    out = Path(out)
    tried: list[str] = []
    if mirror is not None:
        root = Path(mirror)
        for rel in spec.mirror_files:
            src = root / rel
            if not src.is_file():
                tried.append(f"{src} (absent)")
                continue
            with atomic_path(out, suffix=out.suffix) as tmp:
                shutil.copyfile(src, tmp)
                _check_json(tmp)
            return _record(spec.name, out, str(src.resolve()), "mirror")
    if allow_download:
        for url in spec.urls:
            try:
                with atomic_path(out, suffix=out.suffix) as tmp:
                    _download_url(url, tmp, timeout)
                    if spec.archive_member and zipfile.is_zipfile(tmp):
                        _extract_member(tmp, spec.archive_member)
                    _check_json(tmp)
            except Exception as e:  # noqa: BLE001 - every failure is reported below
                tried.append(f"{url} ({type(e).__name__}: {e})")
                continue
            return _record(spec.name, out, url, "url")
    else:
        tried.extend(f"{url} (download disabled)" for url in spec.urls)
    raise DownloadError(f"could not fetch dataset {name!r} to {out}; tried:\n  " + "\n  ".join(tried))


def _extract_member(path: Path, member: str) -> None:
    """Replace the zip archive at ``path`` by its one member named ``member`` (in whatever folder)."""
    with zipfile.ZipFile(path) as zf:
        hits = [n for n in zf.namelist() if n.rsplit("/", 1)[-1] == member and not n.startswith("__MACOSX/")]
        if len(hits) != 1:
            raise ValueError(f"archive has {len(hits)} members named {member!r}: {hits}")
        data = zf.read(hits[0])
    path.write_bytes(data)


def _record(name: str, out: Path, source: str, kind: str) -> dict:
    rec = {
        "dataset": name,
        "source": source,
        "source_kind": kind,
        "path": str(out),
        "bytes": out.stat().st_size,
        "sha256": sha256_file(out),
    }
    write_json(provenance_path(out), rec)
    return rec
