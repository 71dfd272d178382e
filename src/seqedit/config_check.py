"""Checks of the workflow config that JSON Schema cannot express, run by the Snakefile before any job.

JSON Schema counts ``3.0`` as an integer, but the workflow would then format it as ``3.0`` into file names and
command lines and fail at job time (after Snakemake deleted the previous outputs): :func:`check_integers` rejects a
float wherever the schema asks for an integer, naming the key.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import yaml


def _resolve(node: dict, root: dict) -> dict:
    ref = node.get("$ref")
    if ref and ref.startswith("#/"):
        for part in ref[2:].split("/"):
            root = root[part]
        return root
    return node


def _wants_integer(node: dict) -> bool:
    types = node.get("type")
    types = types if isinstance(types, list) else [types]
    return "integer" in types and "number" not in types


def float_integers(value: Any, node: dict, root: dict, where: str = "") -> Iterator[tuple[str, float]]:
    """``(key, value)`` of every float given where ``node`` (a schema) asks for an integer."""
    node = _resolve(node or {}, root)
    if isinstance(value, float) and _wants_integer(node):
        yield where, value
    elif isinstance(value, dict):
        props, extra = node.get("properties", {}), node.get("additionalProperties")
        for key, item in value.items():
            sub = props.get(key, extra if isinstance(extra, dict) else {})
            yield from float_integers(item, sub, root, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for i, item in enumerate(value):
            yield from float_integers(item, node["items"], root, f"{where}[{i}]")


def check_integers(config: dict, schema_path: str | Path) -> None:
    schema = yaml.safe_load(Path(schema_path).read_text())
    bad = list(float_integers(config, schema, schema))
    if bad:
        raise ValueError("config: " + "; ".join(f"{key}: {value!r} is not an integer (write {int(value)})"
                                                if value.is_integer() else f"{key}: {value!r} is not an integer"
                                                for key, value in bad))
