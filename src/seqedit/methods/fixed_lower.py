"""Logits of one fixed token sequence while only the blocks from ``start`` upwards change (FT, FT-M, GRACE).

FT trains ``mlp_out(layer)`` and GRACE's codebook sits on ``mlp_out(layer)``: every block below ``layer`` gives the
same output at every optimisation step. The references (EasyEdit's ``ft_main``, ``GRACE.py``) run the whole model
each step anyway; here the blocks below run once, and each step runs the blocks from ``start`` up
(:class:`~seqedit.methods.upper.UpperForward`'s block slice) and the output head at the scored positions only. The
numbers are the same computation, to float round-off of the head's smaller matrix product
(tests/test_fixed_lower.py). Architectures without the fast path (GPT-2), ``start == 0`` and ``enabled=False``
run the whole model, as before.
"""
from __future__ import annotations

import torch

from ..nethooks import capture, run
from .upper import FAST_ARCHS, UpperForward, _block_list


class FixedLower:
    """``logits_at(positions)`` of ``input_ids`` (one row, no padding) under the model's current upper blocks."""

    def __init__(self, model, arch, start: int, input_ids: torch.Tensor, enabled: bool = True):
        self.model, self.input_ids = model, input_ids
        self.upper = None
        n_layers = len(_block_list(model, arch)[2])
        if enabled and arch.name in FAST_ARCHS and 0 < start < n_layers:
            below = arch.layer.format(start - 1)
            with torch.no_grad(), capture(model, outputs=[below], stop_after=below) as store:
                run(model, input_ids=input_ids)
            self.hidden = store[("out", below)].clone()
            # no attention mask: the same causal path as ``model(input_ids=...)``
            self.upper = UpperForward(model, arch, start - 1, n_layers - 1, None, input_ids)
            self.head = model.get_output_embeddings()

    def logits_at(self, positions: torch.Tensor) -> torch.Tensor:
        """Logits at ``positions`` of the row, ``(len(positions), vocab)``."""
        if self.upper is None:
            return self.model(input_ids=self.input_ids).logits[0][positions]
        final = self.upper(self.hidden)[0]
        return self.head(final[positions])
