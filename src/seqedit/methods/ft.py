"""FT-L: constrained fine-tuning of one MLP output matrix (ROME's baseline, Meng et al. 2022, "FT+L").

ROME's ``baselines/ft`` / EasyEdit's ``objective_optimization: prompt_last``: the weight
``mlp_out(layer).weight`` is trained with Adam for ``num_steps`` steps on the NLL of the new target's tokens
read at the **last prompt token** (every target token scored at that one position, as ROME's baseline does);
after each step the change ``W - W_before`` is clamped into the L-infinity ball of radius ``norm_constraint``
(``null``/``false``: unconstrained). A step is skipped and the loop stops once the loss falls below 1e-2 (as the
references). :class:`FT` also carries the machinery FT-M (``ft_m.py``) uses; FT-M only changes the objective.
The blocks below the lowest trained layer run once per edit, not once per step (:mod:`.fixed_lower`).
"""
from __future__ import annotations

import torch

from ..nethooks import get_parameter
from .base import EditMethod, register
from .fixed_lower import FixedLower
from .value_opt import target_token_ids

FT_REQUIRED = ("layers", "num_steps", "lr", "weight_decay", "norm_constraint")
STOP_LOSS = 1e-2


@register
class FT(EditMethod):
    name = "ft"
    required = FT_REQUIRED
    fixed_lower = True  # run the blocks below the trained layer once per edit (False: the whole model each step)

    # -- objective -------------------------------------------------------------------------------------------
    def batch(self, request: dict):
        """``(input_ids, positions, targets)``: logits at ``positions`` must predict ``targets``."""
        prompt_ids = self.tok(request["prompt"], return_tensors="pt")["input_ids"][0].tolist()
        tgt = target_token_ids(self.tok, request["target_new"])
        ids = torch.tensor([prompt_ids], device=self.device)
        pos = torch.full((len(tgt),), len(prompt_ids) - 1, device=self.device)  # last prompt token, every target
        return ids, pos, torch.tensor(tgt, device=self.device)

    def nll(self, lower: FixedLower, pos, tgt) -> torch.Tensor:
        logp = torch.log_softmax(lower.logits_at(pos).float(), dim=-1)
        return -logp.gather(1, tgt.unsqueeze(1)).mean()

    # -- editing ---------------------------------------------------------------------------------------------
    def edit(self, request: dict) -> dict:
        names = self.edited_params()
        weights = [get_parameter(self.model, n) for n in names]
        before = [w.detach().clone() for w in weights]
        flags = {n: p.requires_grad for n, p in self.model.named_parameters()}
        bound = self.hp["norm_constraint"]
        bound = float(bound) if bound not in (None, False) else None
        ids, pos, tgt = self.batch(request)
        lower = FixedLower(self.model, self.arch, min(int(layer) for layer in self.hp["layers"]), ids,
                           enabled=self.fixed_lower)
        probs: list[float] = []
        steps = 0
        try:
            for n, p in self.model.named_parameters():
                p.requires_grad_(n in names)
            opt = torch.optim.Adam(weights, lr=float(self.hp["lr"]), weight_decay=float(self.hp["weight_decay"]))
            for _ in range(int(self.hp["num_steps"])):
                opt.zero_grad()
                loss = self.nll(lower, pos, tgt)
                probs.append(float(torch.exp(-loss.detach())))
                steps += 1
                if loss.item() < STOP_LOSS:
                    break
                loss.backward()
                opt.step()
                if bound is not None:
                    with torch.no_grad():
                        for w, w0 in zip(weights, before):
                            w.copy_(torch.clamp(w, min=w0 - bound, max=w0 + bound))
            with torch.no_grad():
                final = float(torch.exp(-self.nll(lower, pos, tgt)))
        finally:
            for n, p in self.model.named_parameters():
                p.requires_grad_(flags[n])
                p.grad = None
        return {"z_prob_first": probs[0], "z_prob_last": final, "z_steps": steps}
