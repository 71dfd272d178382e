"""D4S, "Dump for Sequence" (Huang et al., NeurIPS 2024; the authors' patch of EasyEdit's MEMIT).

Per edited layer two running sums in float64: ``A = sum_s R_s K_s^T`` (d_out x d_in) and ``B = sum_s K_s K_s^T``
(d_in x d_in): O(1) memory in the number of edits. Step t, on the original weights W0: ``z_t`` from the value
optimisation, residual ``R_t = z_t - h_L`` computed once before the layer loop; for each edited layer i (in
order): keys ``K_t`` (earlier layers already at ``W0 + Delta(t)``), ``A += R_t K_t^T``, ``B += K_t K_t^T``,
``Delta_i = A/(L-i) (B + lambda C0)^-1`` by a linear solve; the deployed weight is ``W0 + Delta_i``. This equals
batch MEMIT's closed form over the whole history of keys and residuals.
"""
from __future__ import annotations

import torch

from .base import register
from .memit import MEMIT


@register
class D4S(MEMIT):
    name = "d4s"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.w0 = {layer: self.get_weight(layer).clone() for layer in self.layers}
        self.sums: dict[str, torch.Tensor] = {}
        for layer in self.layers:
            d_out, d_in = self.w0[layer].shape
            dev = self.sum_device
            self.sums[f"A.{layer}"] = torch.zeros(d_out, d_in, dtype=torch.float64, device=dev)
            self.sums[f"B.{layer}"] = torch.zeros(d_in, d_in, dtype=torch.float64, device=dev)
        self.history_probe = None  # tests set a list here to receive (layer, K, R) of every step

    @property
    def sum_device(self):
        return self.hp.get("sum_device") or self.device

    def edit(self, request: dict) -> dict:
        for layer in self.layers:  # z and keys are computed on the original weights
            self.set_weight(layer, self.w0[layer])
        value = self.value(request)
        resid = (value.target - self.current_z(request)).to(torch.float64)  # once, before the layer loop
        lam = float(self.hp["mom2_update_weight"])
        n_layers = len(self.layers)
        for i, layer in enumerate(self.layers):
            k = self.keys(request, layer).to(torch.float64)
            a, b = self.sums[f"A.{layer}"], self.sums[f"B.{layer}"]
            a += torch.outer(resid, k).to(a.device)
            b += torch.outer(k, k).to(b.device)
            if self.history_probe is not None:
                self.history_probe.append((layer, k.clone(), resid.clone()))
            delta = self.solve(layer, lam, n_layers - i)
            self.set_weight(layer, self.w0[layer].to(torch.float64) + delta.to(self.w0[layer].device))
        return {"z_prob_first": value.prob_first, "z_prob_last": value.prob_last, "z_steps": value.steps}

    def solve(self, layer: int, lam: float, share: int) -> torch.Tensor:
        a, b = self.sums[f"A.{layer}"], self.sums[f"B.{layer}"]
        cov = self.stats.mom2(layer).to(b.device, torch.float64)
        return torch.linalg.solve(b + lam * cov, a / share, left=False)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.sums)

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        expected = set(self.sums)
        if set(state) != expected:
            raise ValueError(f"D4S state has keys {sorted(state)}, expected {sorted(expected)}")
        for k, v in state.items():
            self.sums[k] = v.to(self.sums[k].device, torch.float64).clone()
