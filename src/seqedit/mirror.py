"""The data mirror is a location, not a value: jobs find it in the environment, Snakemake tracks its content.

The workflow puts the configured ``data_mirror`` (resolved) into ``SEQEDIT_MIRROR_DIR`` for its jobs, and gives each
rule that reads mirror files the sha256 of exactly those files as a tracked param. So moving the mirror folder
(same files) reruns nothing, and changing a file reruns what reads it. Light: no torch, no pandas. The keys of
the registry entries (datasets, corpora, downstream tasks) are in :mod:`seqedit.mirror_keys`.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from .files import sha256_file

ENV = "SEQEDIT_MIRROR_DIR"


def mirror_root(given: str | os.PathLike | None = None) -> str | None:
    """``--mirror`` when given, else the workflow's ``SEQEDIT_MIRROR_DIR`` (None: no mirror, use the URLs)."""
    if given:
        return str(given)
    return os.environ.get(ENV) or None


def export(mirror: str | os.PathLike | None) -> str | None:
    """Set (or clear) ``SEQEDIT_MIRROR_DIR`` for the jobs of this workflow; returns the resolved folder."""
    if mirror:
        root = str(Path(mirror).resolve())
        os.environ[ENV] = root
        return root
    os.environ.pop(ENV, None)
    return None


@lru_cache(maxsize=None)
def file_sha256(path: str) -> str:
    """:func:`seqedit.files.sha256_file`, once per file per workflow parse."""
    return sha256_file(path)


def first_existing(root: str | None, candidates) -> str | None:
    for rel in candidates:
        if root and (Path(root) / rel).is_file():
            return str(Path(root) / rel)
    return None


def content_key(root: str | None, candidates, fallback: str) -> str:
    """``sha256:<hex>`` of the first mirror file that exists among ``candidates``, else ``fallback`` (the URL)."""
    path = first_existing(root, candidates)
    return f"sha256:{file_sha256(path)}" if path else fallback
