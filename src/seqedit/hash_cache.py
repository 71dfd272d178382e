"""SHA-256 of files, cached on disk by what ``stat`` says about each file, so that a large input (a 500 MB model
folder) is hashed once and every later workflow parse only stats it.

An entry is keyed by the file's real path and holds its size, ``mtime_ns``, ``ctime_ns`` and inode: any write to
the file (even one that restores the old mtime, which still moves ``ctime``) or a replacement makes the entry stale
and the file is hashed again. The cache is one JSON file (default ``.snakemake/seqedit/sha256-cache.json`` in the
working directory, i.e. the workflow's ``-d``; ``$SEQEDIT_HASH_CACHE`` overrides it), replaced atomically, so
concurrent parses never read a half-written cache (the last writer wins; a lost entry only costs a re-hash).
Light: no torch, no pandas.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .files import sha256_file

ENV = "SEQEDIT_HASH_CACHE"
DEFAULT = Path(".snakemake") / "seqedit" / "sha256-cache.json"


def cache_path() -> Path:
    return Path(os.environ.get(ENV) or DEFAULT)


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


class HashCache:
    """``sha256(path)`` from the cache when the file's stat stamp is unchanged, else hashed (and recorded)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else cache_path()
        self.entries: dict[str, list] = {}
        self.hashed: list[str] = []  # files hashed (not served from the cache) since this object was made
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
            self.entries = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            pass  # no cache yet, or an unreadable one: start empty

    def sha256(self, file: str | os.PathLike) -> str:
        real = os.path.realpath(file)
        stamp = _stamp(os.stat(real))
        entry = self.entries.get(real)
        if isinstance(entry, list) and len(entry) == 2 and entry[0] == stamp:
            return entry[1]
        digest = sha256_file(real)
        if _stamp(os.stat(real)) != stamp:  # written while being read: do not record a value it may not have
            raise RuntimeError(f"{real} changed while it was being hashed; run again once it is complete")
        self.entries[real] = [stamp, digest]
        self.hashed.append(real)
        return digest

    def save(self) -> None:
        """Write the cache when a file was hashed, without the entries of files that no longer exist (a failure to
        write only costs a re-hash next time)."""
        if not self.hashed:
            return
        self.entries = {path: entry for path, entry in self.entries.items() if os.path.exists(path)}
        tmp = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.entries, f, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError:
            if tmp is not None and os.path.exists(tmp):
                os.remove(tmp)
