"""The tiny workflow config shared by the end-to-end test (test_workflow.py) and the SLURM test (tests/slurm):
the real SmolLM2, 3 requests of CounterFact and zsRE, ROME / MEMIT / D4S with few optimisation steps,
checkpoints after 1 and 2 edits, 3000 tokens of statistics, lm-eval on 2 WinoGrande items."""
from __future__ import annotations

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


def tiny_config(work: Path, model_dir: Path, mirror: Path, **overrides) -> Path:
    """Write ``work/config.yaml``: the default config with the tiny settings (and ``overrides``) on top."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg.update(
        data_mirror=str(mirror),
        models={"smollm2-135m": {"dtype": "float32", "path": str(model_dir)}},
        datasets={d: {"n_requests": 3} for d in DATASETS},
        methods=METHODS,
        hparams_dir=str(fast_hparams(work / "hparams")),
        checkpoints=STEPS,
        stats={"corpus": "wikitext2-test", "n_tokens": 3000, "max_length": 256, "dtype": "float32"},
        downstream={"batch_size": 8, "tasks": {"winogrande": {"limit": 2, "num_fewshot": 0}}},
        **overrides,
    )
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path
