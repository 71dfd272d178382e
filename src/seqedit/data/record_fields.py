"""Typed access to the fields of one raw dataset record, with errors that name the file, the record index and
the field path (``requested_rewrite[0].subject``): the checks every normaliser in :mod:`.normalize` shares."""
from __future__ import annotations

import os
from typing import Any


class RecordError(ValueError):
    """A malformed raw record; the message names the file, the record index and the field."""

    def __init__(self, path: str | os.PathLike, index: int, field: str, problem: str):
        self.path, self.index, self.field, self.problem = str(path), index, field, problem
        super().__init__(f"{path}: record {index}: field {field!r}: {problem}")


class RecordFields:
    """Typed field access that reports file, record index and field path on failure."""

    def __init__(self, path, index: int):
        self.path, self.index = path, index

    def err(self, field: str, problem: str) -> RecordError:
        return RecordError(self.path, self.index, field, problem)

    def get(self, obj: Any, key: str, typ, field: str | None = None, optional: bool = False):
        field = field or key
        if not isinstance(obj, dict) or key not in obj:
            if optional:
                return None
            raise self.err(field, "missing")
        val = obj[key]
        if optional and val is None:
            return None
        if not isinstance(val, typ) or isinstance(val, bool):
            raise self.err(field, f"expected {_tname(typ)}, got {type(val).__name__}")
        return val

    def str_(self, obj, key, field=None, optional=False) -> str | None:
        return self.get(obj, key, str, field, optional)

    def str_list(self, obj, key, field=None, optional=False) -> list[str]:
        field = field or key
        val = self.get(obj, key, list, field, optional)
        if val is None:
            return []
        for i, item in enumerate(val):
            if not isinstance(item, str):
                raise self.err(f"{field}[{i}]", f"expected str, got {type(item).__name__}")
        return list(val)

    def target(self, obj, key, field=None) -> str:
        """A ROME-style target: ``{"str": ...}`` (or a bare string)."""
        field = field or key
        val = self.get(obj, key, (dict, str), field)
        if isinstance(val, dict):
            return self.str_(val, "str", f"{field}.str")
        return val

    def fill(self, template: str, subject: str, field: str) -> str:
        if "{}" not in template:
            raise self.err(field, f"prompt template {template!r} has no '{{}}' placeholder for the subject")
        return template.replace("{}", subject)

    def check_subject(self, subject: str, prompt: str, field: str = "subject") -> None:
        if not subject.strip():
            raise self.err(field, "empty subject")
        if subject not in prompt:
            raise self.err(field, f"subject {subject!r} does not occur in prompt {prompt!r}")


def _tname(typ) -> str:
    if isinstance(typ, tuple):
        return " or ".join(t.__name__ for t in typ)
    return typ.__name__
