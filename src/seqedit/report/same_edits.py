"""Editing datasets whose checkpoints are the same weights: C8 counts them once.

Two datasets of a config can make the very same edits: the MQD Directly-generated form (``mqd_dg``) is the
CounterFact request itself, so its chains equal CounterFact's bit for bit (same ``tensors_sha256`` in the edit
checkpoints' metadata). C8 asks whether the damage differs *between editing datasets*; two names for one edit
sequence are one dataset, and counting them twice adds a pair that is equal by construction (before, that pair
pushed C8 towards "not reproduced")."""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

EditHashes = Mapping[tuple[str, int], Mapping[str, str]]  # (method, n_edits) -> {dataset: tensors_sha256}


def load_edit_hashes(paths: Iterable[str]) -> dict[tuple[str, int], dict[str, str]]:
    """``{(method, n_edits): {dataset: tensors_sha256}}`` from edit checkpoints' metadata files (step_N.json)."""
    out: dict[tuple[str, int], dict[str, str]] = {}
    for path in paths:
        with open(path) as fh:
            meta = json.load(fh)
        try:
            key, dataset = (str(meta["method"]), int(meta["n_edits"])), str(meta["dataset"])
        except KeyError as err:
            raise ValueError(f"{path}: edit metadata without {err.args[0]!r}") from None
        if meta.get("tensors_sha256"):  # absent in checkpoints older than the integrity check: never merged
            out.setdefault(key, {})[dataset] = str(meta["tensors_sha256"])
    return out


def merge_identical(damage: Mapping[str, tuple], method: str, n_edits: int | None,
                    hashes: EditHashes | None) -> tuple[dict[str, tuple], list[str]]:
    """``damage`` ({dataset: estimate}) with datasets of identical checkpoints under one joined name
    ("counterfact = mqd_dg", the estimate of the first), and a note per merged group."""
    known = (hashes or {}).get((method, n_edits), {}) if n_edits is not None else {}
    groups: dict[str, list[str]] = {}
    for dataset in sorted(damage):
        groups.setdefault(known.get(dataset, f"<unknown {dataset}>"), []).append(dataset)
    merged, notes = {}, []
    for names in groups.values():
        merged[" = ".join(names)] = damage[names[0]]
        if len(names) > 1:
            notes.append(f"{' and '.join(names)} are the same edits (identical checkpoints), counted once")
    return merged, notes
