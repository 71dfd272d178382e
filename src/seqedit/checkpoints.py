"""Edit checkpoints: ``step_{k}.safetensors`` (edited tensors + method state) and ``step_{k}.json`` (meta + log).

Tensor names inside the safetensors file:
- ``weight::<parameter name>``: the full edited weight after k edits, in the model's dtype;
- ``state::<key>``: the method's own state that must survive between checkpoints (e.g. D4S's running sums).

The JSON file holds ``model``, ``dataset``, ``method``, ``n_edits``, ``hparams_set``, ``hparams``, ``seed``,
``dtype``, ``edited_params``, ``context_templates``, ``request_ids`` (the requests edited so far, in order), ``log``
(one record per edit, cumulative over all edits so far) and ``tensors_sha256``.

Integrity: the safetensors file carries the SHA-256 of its tensors (:mod:`seqedit.tensorfile`), which the JSON
repeats (so the pair belongs together); loading verifies both and refuses NaN/inf tensors, with an error that names
the file and how to rebuild it.
"""
from __future__ import annotations

import json
from pathlib import Path

from . import atomic, tensorfile
from .finite import nonfinite_tensors

WEIGHT_PREFIX = "weight::"
STATE_PREFIX = "state::"


def json_path(safetensors_path: str | Path) -> Path:
    return Path(safetensors_path).with_suffix(".json")


def save_checkpoint(path: str | Path, weights: dict, state: dict, meta: dict) -> None:
    """Write the tensors first, the JSON last: a checkpoint is complete once its JSON exists."""
    tensors = {WEIGHT_PREFIX + k: v for k, v in weights.items()}
    tensors.update({STATE_PREFIX + k: v for k, v in state.items()})
    digest = tensorfile.save(path, tensors, metadata={"format": "seqedit-checkpoint-2", "n_edits": meta["n_edits"]})
    atomic.write_json(json_path(path), {**meta, "tensors_sha256": digest})


def load_checkpoint(path: str | Path, device: str = "cpu") -> tuple[dict, dict, dict]:
    """Return ``(weights, state, meta)`` of a complete, uncorrupted checkpoint with finite tensors."""
    path = Path(path)
    rebuild = tensorfile.rebuild_hint(path, "edit")
    if not json_path(path).exists():
        raise FileNotFoundError(f"checkpoint {path} has no {json_path(path).name}: it is incomplete; {rebuild}")
    tensors, metadata = tensorfile.load(path, rebuild, device=device)
    try:
        meta = json.loads(json_path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise tensorfile.CorruptFileError(f"{json_path(path)} is not valid JSON ({err}); {rebuild}") from err
    if meta.get("tensors_sha256") != metadata.get(tensorfile.CHECKSUM_KEY):
        raise tensorfile.CorruptFileError(f"{path} and {json_path(path).name} come from different runs (their "
                                          f"checksums differ); {rebuild}")
    bad = nonfinite_tensors(tensors)
    if bad:
        raise tensorfile.CorruptFileError(f"checkpoint {path} holds NaN/inf in {', '.join(bad)}: the "
                                          f"{meta.get('method')} run ({meta.get('hparams_set')!r} hyperparameters) "
                                          f"failed; fix the hyperparameters, then {rebuild}")
    weights = {k[len(WEIGHT_PREFIX):]: v for k, v in tensors.items() if k.startswith(WEIGHT_PREFIX)}
    state = {k[len(STATE_PREFIX):]: v for k, v in tensors.items() if k.startswith(STATE_PREFIX)}
    return weights, state, meta


def load_meta(path: str | Path) -> dict:
    return json.loads(json_path(path).read_text())

