"""Hyperparameter files ``config/hparams/<method>.yaml``: their schema, and resolving one set (torch-free).

Schema::

    <model>:
      compute: {<key>: <value>, ...}    # optional: merged into every set (a set's own value wins)
      <set name>:                       # e.g. reference, tuned
        base: <other set of the model>  # optional: start from that set (which may have a base itself)
        notes: <text>                   # optional, dropped when loading
        <key>: <value>                  # a hyperparameter the method knows (methods.catalog)

A model's ``compute:`` block holds settings that change how fast a result is computed, not the result beyond float
round-off (D4S's ``value_block``, ``resolve_every``), so the ``reference`` sets stay equal to the cited files.
An unknown (misspelled) key is an error that names the file, the model, the set and the key.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml

from .catalog import method_entry

COMPUTE_BLOCK = "compute"
SET_FIELDS = ("base", "notes")  # structural keys of a set, not hyperparameters


class HparamsFileError(ValueError):
    """A hyperparameter file that does not follow the schema."""


def _unknown_keys(where: str, keys, known: frozenset[str], method: str) -> None:
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise HparamsFileError(f"{where}: unknown hyperparameter {key!r} for method {method}{hint}; "
                                   f"known: {', '.join(sorted(known))}")


def read_hparams_file(path: str | Path, method: str | None = None) -> dict:
    """The file's ``{model: {set or compute: {...}}}`` after checking it against the schema."""
    path = Path(path)
    method = method or path.stem
    known = method_entry(method).keys
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise HparamsFileError(f"{path}: expected a mapping {{model: {{set: {{...}}}}}}, got {type(data).__name__}")
    for model, sets in data.items():
        if not isinstance(sets, dict):
            raise HparamsFileError(f"{path}: model {model!r}: expected a mapping of hyperparameter sets")
        for name, block in sets.items():
            where = f"{path}: model {model!r}, " + ("compute block" if name == COMPUTE_BLOCK else f"set {name!r}")
            if block is None and name == COMPUTE_BLOCK:
                continue
            if not isinstance(block, dict):
                raise HparamsFileError(f"{where}: expected a mapping of hyperparameters, got {block!r}")
            fields = () if name == COMPUTE_BLOCK else SET_FIELDS
            _unknown_keys(where, [k for k in block if k not in fields], known, method)
            base = block.get("base") if name != COMPUTE_BLOCK else None
            if base is not None and (base == COMPUTE_BLOCK or base not in sets):
                raise HparamsFileError(f"{where}: base {base!r} is not a set of model {model!r} "
                                       f"(have: {', '.join(s for s in sets if s != COMPUTE_BLOCK)})")
    return data


def _resolve(sets: dict, name: str, path: Path, model: str, seen: tuple[str, ...] = ()) -> dict:
    if name in seen:
        raise HparamsFileError(f"{path}: model {model!r}: the bases of set {seen[0]!r} form a loop "
                               f"({' -> '.join(seen + (name,))})")
    hp = dict(sets[name])
    hp.pop("notes", None)
    base = hp.pop("base", None)
    return {**_resolve(sets, base, path, model, seen + (name,)), **hp} if base is not None else hp


def load_hparams(path: str | Path, model: str, hparams_set: str, *, method: str | None = None,
                 with_compute: bool = True) -> dict[str, Any]:
    """One set of ``path`` for ``model``, its ``base:`` chain resolved, the ``compute:`` block under it
    (``with_compute=False``: without it, the values that determine the result). ``method`` defaults to the file
    name (``<method>.yaml``)."""
    path = Path(path)
    data = read_hparams_file(path, method)
    if model not in data:
        raise KeyError(f"{path}: no hyperparameters for model {model!r} (have: {', '.join(data)})")
    sets = dict(data[model])
    compute = dict(sets.pop(COMPUTE_BLOCK, None) or {})
    if hparams_set not in sets:
        raise KeyError(f"{path}: model {model!r} has no hyperparameter set {hparams_set!r} (have: {', '.join(sets)})")
    hp = _resolve(sets, hparams_set, path, model)
    return {**compute, **hp} if with_compute else hp


def check_required(path: str | Path, model: str, hparams_set: str, method: str | None = None) -> dict[str, Any]:
    """The resolved set, after checking that it holds every key the method requires (names file, set and keys)."""
    path = Path(path)
    entry = method_entry(method or path.stem)
    hp = load_hparams(path, model, hparams_set, method=entry.name)
    missing = [k for k in entry.required if k not in hp]
    if missing:
        raise HparamsFileError(f"{path}: model {model!r}, set {hparams_set!r} lacks the hyperparameters "
                               f"{', '.join(missing)} (method {entry.name} needs {', '.join(entry.required)})")
    return hp
