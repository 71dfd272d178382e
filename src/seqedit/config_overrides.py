"""`snakemake --config key=value`: typed values, and a given key replaces the config file's value.

Snakemake reads a nested ``--config`` value with YAML's BaseLoader, so ``checkpoints='[50,100]'`` arrives as
``['50', '100']`` and fails the schema (``'50' is not of type 'integer'``). :func:`command_line_config` types every
scalar again as YAML would (``50`` -> int, ``0.5`` -> float, ``true`` -> bool, ``null`` -> None; other strings stay
strings). Each top-level key given on the command line replaces that key of the config file as a whole (Snakemake
would merge nested mappings), so ``datasets='{zsre: {n_requests: 20}}'`` runs zsRE only, as it reads.
"""
from __future__ import annotations

from typing import Any

import yaml


def retype(value: Any) -> Any:
    """A ``--config`` value with its strings typed as YAML scalars (recursively through lists and mappings)."""
    if isinstance(value, str):
        try:
            typed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return typed if typed is None or isinstance(typed, (bool, int, float)) else value
    if isinstance(value, list):
        return [retype(v) for v in value]
    if isinstance(value, dict):
        return {key: retype(v) for key, v in value.items()}
    return value


def command_line_config(overrides: dict | None) -> dict:
    """The ``--config`` entries, typed, to be put over the loaded config key by key (``config.update(...)``)."""
    return {key: retype(value) for key, value in (overrides or {}).items()}
