"""The one registry of editing methods: ``name -> EditMethod subclass``.

Adding a method is adding one module here (decorated with :func:`register`) and one block in
``config/hparams/<method>.yaml``; the rules do not change.
"""
from __future__ import annotations

import importlib
import pkgutil

from .base import METHODS, EditMethod, register  # noqa: F401


HELPER_MODULES = {"base", "value_opt", "keys", "upper"}


def available_methods() -> list[str]:
    """Method names without importing them (one module per method, named after it): cheap for the Snakefile."""
    return sorted(i.name for i in pkgutil.iter_modules(__path__) if i.name not in HELPER_MODULES)


def _load_all() -> None:
    for name in available_methods():
        importlib.import_module(f"{__name__}.{name}")


def get_method(name: str) -> type[EditMethod]:
    _load_all()
    try:
        return METHODS[name]
    except KeyError:
        raise KeyError(f"unknown method {name!r}; known methods: {', '.join(sorted(METHODS))}") from None


def method_names() -> list[str]:
    _load_all()
    return sorted(METHODS)
