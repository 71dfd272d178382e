"""The one registry of editing methods: ``name -> EditMethod subclass``, and applying a checkpoint.

Adding a method is one module here named after it (a class decorated with :func:`register`), its entry in
:mod:`.catalog` (the torch-free table the Snakefile reads) and one ``config/hparams/<method>.yaml``; the rules do
not change. Importing this package imports no method module (and no torch): :func:`get_method` does.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from .base import METHODS, EditMethod, register  # noqa: F401
from .catalog import CATALOG, method_entry


def available_methods() -> list[str]:
    """Method names without importing them (the catalog): cheap for the Snakefile."""
    return sorted(CATALOG)


def check_agrees_with_catalog(cls: type[EditMethod], hparams_examples: list[dict] = ()) -> None:
    """The class and its catalog entry agree on the required keys and the statistics it reads."""
    entry = method_entry(cls.name)
    problems = []
    if set(cls.required) != set(entry.required):
        problems.append(f"required keys: class {sorted(cls.required)}, catalog {sorted(entry.required)}")
    if cls.uses_stats != entry.uses_stats:
        problems.append(f"uses_stats: class {cls.uses_stats}, catalog {entry.uses_stats}")
    for hp in hparams_examples:
        if cls.stats_layers(hp) != entry.stats_layers(hp):
            problems.append(f"stats layers of {hp}: class {cls.stats_layers(hp)}, catalog {entry.stats_layers(hp)}")
    if problems:
        raise AssertionError(f"method {cls.name}: {cls.__module__} and seqedit.methods.catalog disagree: "
                             + "; ".join(problems))


_CHECKED: set[str] = set()


def get_method(name: str) -> type[EditMethod]:
    if name in METHODS and name not in CATALOG:
        return METHODS[name]  # registered at run time (a test's scripted method), not one of the workflow's
    method_entry(name)  # an unknown name is an error naming the known ones
    if name not in _CHECKED:
        importlib.import_module(f"{__name__}.{name}")
        check_agrees_with_catalog(METHODS[name])
        _CHECKED.add(name)
    return METHODS[name]


def method_names() -> list[str]:
    for name in available_methods():
        get_method(name)
    return sorted(METHODS)


def apply_checkpoint(model, path: str | Path):
    """Apply an edit checkpoint to a loaded base model in memory (no model copy on disk).

    Returns ``(model, meta)``: methods that do not edit weights (e.g. an adaptor) may return a wrapped model.
    """
    from ..checkpoints import load_checkpoint

    weights, state, meta = load_checkpoint(path)
    model = get_method(meta["method"]).apply_checkpoint(model, weights, state, meta)
    return model, meta
