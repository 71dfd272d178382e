"""What the benchmark scripts share: the SmolLM2 set-up and putting the edited weights back between runs."""
from __future__ import annotations

from pathlib import Path

import torch

from seqedit.methods.hparams import load_hparams
from seqedit.models import matmul_option
from seqedit.models.loading import load_model_and_tokenizer

ROOT = Path(__file__).resolve().parents[1]
MODEL = "smollm2-135m"


def hparams(method: str, hparams_set: str, **overrides) -> dict:
    hp = load_hparams(ROOT / "config" / "hparams" / f"{method}.yaml", MODEL, hparams_set)
    hp.update(overrides)
    return hp


def load(model_dir: str, dtype: str = "float32", cpu_matmul: str = matmul_option.DEFAULT):
    """Model, tokenizer and a copy of every parameter (to undo any method's edits)."""
    model, tok = load_model_and_tokenizer(model_dir, dtype, "cpu", cpu_matmul)
    return model, tok, {n: t.detach().clone() for n, t in model.named_parameters()}


def restore(model, base: dict) -> None:
    with torch.no_grad():
        params = dict(model.named_parameters())
        for name, t in base.items():
            if not torch.equal(params[name], t):
                params[name].copy_(t)


def edit_metrics(model, tok, reqs: list[dict], before, locality) -> tuple[float, float, float]:
    """Efficacy, Paraphrase, Specificity (sequential protocol, token accuracy) of ``reqs`` on the current weights;
    ``locality`` = ``metrics.locality_pairs(reqs)``, ``before`` = the unedited model's argmax tokens there."""
    from seqedit.evaluation import metrics as eval_metrics

    prompts, targets = [r["prompt"] for r in reqs], [r["target_new"] for r in reqs]
    eff = eval_metrics.mean(eval_metrics.token_accuracy(model, tok, prompts, targets))
    _, para_prompts, para_targets = eval_metrics.paraphrase_pairs(reqs)
    par = eval_metrics.mean(eval_metrics.token_accuracy(model, tok, para_prompts, para_targets))
    after = eval_metrics.argmax_at_targets(model, tok, locality[1], locality[2])
    spe = eval_metrics.mean(eval_metrics.agreement(before, after))
    return eff, par, spe


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"
