"""Helpers shared by the editing tests: requests from CounterFact-like facts and small layer statistics."""
from __future__ import annotations

import torch

from seqedit.methods.base import StatsLoader
from seqedit.stats import collect_second_moments

EDIT_LAYERS = [4, 5, 6, 7, 8]  # MEMIT's edited layers on SmolLM2 (EasyEdit's llama-7b choice)

REQUESTS = [
    {"id": "0", "subject": "Danielle Darrieux", "prompt": "The mother tongue of Danielle Darrieux is",
     "target_new": "English", "target_true": "French"},
    {"id": "1", "subject": "Edwin of Northumbria", "prompt": "The official religion of Edwin of Northumbria is",
     "target_new": "Islam", "target_true": "Christianity"},
    {"id": "2", "subject": "Toko Yasuda", "prompt": "Toko Yasuda, the", "target_new": "piano",
     "target_true": "guitar"},
    {"id": "3", "subject": "Autonomous University of Madrid", "prompt": "Autonomous University of Madrid, which is located in",
     "target_new": "Sweden", "target_true": "Spain"},
]

TEXT = (
    "The city council met on Tuesday to discuss the new budget for schools and roads. Several members argued "
    "that the river bridge needed repairs before winter, while others wanted more money for the public library. "
    "In the end the mayor proposed a compromise that was accepted by a narrow majority. "
)


class MemoryStats(StatsLoader):
    def __init__(self, moments: dict):
        self._cache = moments


def small_stats(model, tok, arch, layers, n_tokens: int = 3000) -> MemoryStats:
    docs = [TEXT * 4] * 40
    moments, _, _ = collect_second_moments(model, tok, arch, layers, iter(docs), n_tokens, max_length=256,
                                           progress=False)
    return MemoryStats({k: v.float() for k, v in moments.items()})


def snapshot(model, names):
    params = dict(model.named_parameters())
    return {n: params[n].detach().clone() for n in names}


def restore(model, saved):
    params = dict(model.named_parameters())
    with torch.no_grad():
        for n, v in saved.items():
            params[n].copy_(v)


def next_token_prob(model, tok, prompt: str, token_id: int) -> float:
    """Probability of ``token_id`` right after ``prompt``."""
    ids = tok(prompt, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return torch.softmax(model(input_ids=ids).logits[0, -1], -1)[token_id].item()


def make_method(method: str, model, tok, stats=None, model_name: str = "smollm2-135m", **overrides):
    """A method instance with the model's `tuned` hyperparameters (``overrides`` on top) and seeded templates."""
    from pathlib import Path

    from seqedit.methods import get_method
    from seqedit.methods.hparams import load_hparams
    from seqedit.models.registry import get_model_spec
    from seqedit.tokens import generate_context_templates

    hp_file = Path(__file__).resolve().parents[1] / "config" / "hparams" / f"{method}.yaml"
    hp = {**load_hparams(hp_file, model_name, "tuned"), **overrides}
    templates = generate_context_templates(model, tok, hp["context_template_length_params"], seed=0)
    return get_method(method)(model, tok, get_model_spec(model_name).architecture, hp, stats, templates)
