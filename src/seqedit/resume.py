"""``seqedit edit --resume``: a chain of checkpoints continues only with the settings that made it.

A checkpoint's JSON records everything that determines it (model, dataset, method, hyperparameter set and values,
seed, dtype, the requests edited so far); resuming with any of them changed would mix two settings in one chain, so
:func:`check_resume` refuses it with a message naming the field, both values and how to start the chain afresh.
"""
from __future__ import annotations

import json
from pathlib import Path

#: fields that must be equal between the checkpoint and the run continuing it
RESUME_FIELDS = ("model", "dataset", "method", "hparams_set", "hparams", "seed", "dtype")


def _canonical(value):
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _differences(got: dict, want: dict) -> str:
    keys = sorted(set(got) | set(want))
    diff = [f"{k}: {got.get(k, '<unset>')!r} in the checkpoint, {want.get(k, '<unset>')!r} now" for k in keys
            if got.get(k, "<unset>") != want.get(k, "<unset>")]
    return "; ".join(diff)


def check_resume(path: str | Path, meta: dict, want: dict, request_ids: list[str], n_edits: int) -> None:
    """Raise ``ValueError`` unless checkpoint ``path`` (its ``meta``) was made with the settings in ``want`` (a
    value for each of :data:`RESUME_FIELDS`) from the first requests of ``request_ids`` and holds <= ``n_edits``."""
    fresh = f"delete {path} and the later checkpoints of its chain, or rerun with `snakemake --forcerun edit`"
    for key in RESUME_FIELDS:
        if key not in meta:
            raise ValueError(f"--resume {path} records no {key!r} (made by an older version), so it cannot be checked "
                             f"against this run; {fresh}")
        got, now = _canonical(meta[key]), _canonical(want[key])
        if got != now:
            detail = _differences(got, now) if isinstance(got, dict) and isinstance(now, dict) else \
                f"{got!r} in the checkpoint, {now!r} now"
            raise ValueError(f"--resume {path} was made with another {key} ({detail}); a chain must not mix two "
                             f"settings: {fresh}")
    start = meta["n_edits"]
    if start > n_edits:
        raise ValueError(f"--resume {path} holds {start} edits, more than --n-edits {n_edits}")
    if meta["request_ids"] != request_ids[:start]:
        raise ValueError(f"--resume {path} was made from other requests (ids {meta['request_ids'][:3]}...) than "
                         f"the first {start} of this run's requests; {fresh}")
