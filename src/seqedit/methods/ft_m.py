"""FT-M (Wang et al. 2023, EasyEdit survey; EasyEdit ``objective_optimization: target_new``).

Same loop as FT-L (:mod:`.ft`), but the loss is the masked cross-entropy of teacher forcing on
``prompt + " " + target``: only the target tokens' positions count, mean over them.
"""
from __future__ import annotations

import torch

from .base import register
from .ft import FT
from .value_opt import target_token_ids


@register
class FTM(FT):
    name = "ft_m"

    def batch(self, request: dict):
        prompt_ids = self.tok(request["prompt"], return_tensors="pt")["input_ids"][0].tolist()
        tgt = target_token_ids(self.tok, request["target_new"])
        ids = torch.tensor([prompt_ids + tgt], device=self.device)
        n = len(prompt_ids)
        pos = torch.arange(n - 1, n - 1 + len(tgt), device=self.device)  # logits at t-1 predict token t
        return ids, pos, torch.tensor(tgt, device=self.device)
