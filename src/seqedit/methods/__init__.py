"""The one registry of editing methods: ``name -> EditMethod subclass``.

Adding a method is adding one module here (decorated with :func:`register`) and one block in
``config/hparams/<method>.yaml``; the rules do not change.
"""
from __future__ import annotations

import importlib
import pkgutil

from .base import METHODS, EditMethod, register  # noqa: F401


def _load_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        if info.name not in ("base", "value_opt", "keys", "upper"):
            importlib.import_module(f"{__name__}.{info.name}")


def get_method(name: str) -> type[EditMethod]:
    _load_all()
    try:
        return METHODS[name]
    except KeyError:
        raise KeyError(f"unknown method {name!r}; known methods: {', '.join(sorted(METHODS))}") from None


def method_names() -> list[str]:
    _load_all()
    return sorted(METHODS)
