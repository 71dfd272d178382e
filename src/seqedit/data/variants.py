"""Which variant of a dataset a run edits, named from the registry (never typed per config).

``download-data`` takes the first registry mirror file that exists, else the canonical URL; so the file a run edits
is known when the workflow is parsed. Its record format (read from the mirror file's first record, or the
registry's ``url_format`` for the URL) names the variant: :data:`seqedit.data.registry.VARIANTS`. Only CounterFact
has variants that change what a metric means (one rephrase / one neighbourhood prompt in EasyEdit's split, two /
ten in ROME's file). Light: no torch, no pandas.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from . import registry

_HEAD = 1 << 20  # the first record is read from the first MiB (a whole file only if one record is longer)


def first_record_format(path: str | os.PathLike) -> str | None:
    """The record format (:func:`seqedit.data.normalize.detect_format`) of the first record of a JSON array or
    JSON-lines file, without parsing the rest."""
    from .normalize import detect_format

    with open(path, encoding="utf-8") as f:
        head = f.read(_HEAD)
    text = head.lstrip()
    start = 1 if text.startswith("[") else 0
    decoder = json.JSONDecoder()
    body = text[start:].lstrip()
    try:
        rec, _ = decoder.raw_decode(body)
    except json.JSONDecodeError:
        if len(head) < _HEAD:
            return None
        whole = json.loads(Path(path).read_text(encoding="utf-8"))
        rec = whole[0] if isinstance(whole, list) and whole else None
    return detect_format(rec)


def planned_format(dataset: str, mirror_root: str | os.PathLike | None) -> str | None:
    """The record format of the file ``download-data`` will fetch for registry ``dataset`` (None: unknown)."""
    spec = registry.get_dataset_spec(dataset)
    if spec.built_from:
        return None
    if mirror_root:
        for rel in spec.mirror_files:
            path = Path(mirror_root) / rel
            if path.is_file():
                return first_record_format(path)
    return spec.url_format


def variant_key(dataset: str, mirror_root: str | os.PathLike | None) -> str | None:
    """The registry variant (a key of :data:`registry.VARIANTS`) that runs for ``dataset``; None when the dataset
    has no variants."""
    fmt = planned_format(dataset, mirror_root)
    return fmt if fmt in registry.VARIANTS else None


def variant_label(key: str | None) -> str | None:
    return registry.VARIANTS.get(key) if key else None
