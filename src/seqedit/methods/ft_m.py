"""FT-M (Wang et al. 2023, EasyEdit survey; EasyEdit ``objective_optimization: target_new``).

Same loop as FT-L (:mod:`.ft`), but the loss is the masked cross-entropy of teacher forcing on
``prompt + " " + target``: only the target tokens' positions count, mean over them. As EasyEdit's ``ft_main``,
prompt and target are tokenised as one text and the prompt's own token count marks where the target starts
(:func:`seqedit.tokens.prompt_target_ids`), so a SentencePiece tokenizer gets no spurious bare "▁" target token.
"""
from __future__ import annotations

import torch

from ..tokens import prompt_target_ids
from .base import register
from .ft import FT


@register
class FTM(FT):
    name = "ft_m"

    def batch(self, request: dict):
        seq, n = prompt_target_ids(self.tok, request["prompt"], request["target_new"])
        ids = torch.tensor([seq], device=self.device)
        pos = torch.arange(n - 1, len(seq) - 1, device=self.device)  # logits at t-1 predict token t
        return ids, pos, torch.tensor(seq[n:], device=self.device)
