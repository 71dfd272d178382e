"""The tiny workflow config shared by the end-to-end test (test_workflow.py) and the SLURM test (tests/slurm):
the real SmolLM2, 3 requests of CounterFact and zsRE, ROME / MEMIT / D4S with few optimisation steps,
checkpoints after 1 and 2 edits, 3000 tokens of statistics, lm-eval on 2 WinoGrande items."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
METHODS = ["rome", "memit", "d4s"]
DATASETS = ["counterfact", "zsre"]
STEPS = [1, 2]


def fast_hparams(folder: Path) -> Path:
    """The tuned SmolLM2 hyperparameters with fewer optimisation steps and short context templates."""
    from seqedit.methods.hparams import load_hparams

    folder.mkdir(parents=True, exist_ok=True)
    for m in METHODS:
        hp = load_hparams(ROOT / "config" / "hparams" / f"{m}.yaml", "smollm2-135m", "tuned")
        hp.update(v_num_grad_steps=4, context_template_length_params=[[5, 5]])
        (folder / f"{m}.yaml").write_text(yaml.safe_dump({"smollm2-135m": {"tuned": hp}}))
    return folder


def fixture_model(folder: Path) -> Path:
    """A stand-in Hugging Face folder for dry runs (the workflow hashes its files; nothing loads them): config,
    tokenizer and weight files of arbitrary bytes, and a README (not a model file)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 8}))
    (folder / "tokenizer.json").write_text(json.dumps({"model": {"vocab": {"a": 0}}}))
    (folder / "tokenizer_config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 64)
    (folder / "README.md").write_text("a tiny fixture model\n")
    return folder


def tiny_config(work: Path, model_dir: Path, mirror: Path, **overrides) -> Path:
    """Write ``work/config.yaml``: ``config/tiny.yaml`` pointed at the fixtures (model folder, data mirror, faster
    hyperparameters), ``overrides`` on top. A ``model_dir`` that does not exist becomes a :func:`fixture_model`
    (the workflow refuses a models.<m>.path that is not a model folder)."""
    if not Path(model_dir).exists():
        fixture_model(Path(model_dir))
    cfg = yaml.safe_load((ROOT / "config" / "tiny.yaml").read_text())
    assert cfg["methods"] == METHODS and list(cfg["datasets"]) == DATASETS and cfg["checkpoints"] == STEPS
    cfg.update(
        data_mirror=str(mirror),
        models={"smollm2-135m": {"dtype": "float32", "path": str(model_dir)}},
        hparams_dir=str(fast_hparams(work / "hparams")),
        **overrides,
    )
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path
