"""MEMIT (Meng et al., 2023), applied one request at a time (kmeng01/memit ``execute_memit``).

``z`` from the value optimisation at the last edited layer's output. For each edited layer i in order: keys ``K``
at the current model (earlier layers of this edit already updated), residual ``R = z - h_L`` recomputed at the
current model, ``Delta = R/(L-i) K^T (lambda C + K K^T)^-1``, ``W <- W + Delta``. Sequential MEMIT keeps adding
such updates to the already-edited weights.
"""
from __future__ import annotations

import torch

from ..nethooks import get_parameter
from ..tokens import to_template
from .base import EditMethod, register
from .keys import compute_keys, reprs_at_subject
from .value_opt import compute_value

MEMIT_REQUIRED = ("layers", "fact_token", "v_num_grad_steps", "v_lr", "v_loss_layer", "v_weight_decay",
                  "clamp_norm_factor", "kl_factor", "mom2_update_weight", "context_template_length_params")


@register
class MEMIT(EditMethod):
    name = "memit"
    required = MEMIT_REQUIRED
    uses_stats = True

    @property
    def layers(self) -> list[int]:
        return sorted(self.hp["layers"])

    def weight(self, layer: int) -> torch.nn.Parameter:
        return get_parameter(self.model, f"{self.arch.mlp_out.format(layer)}.weight")

    def value(self, request: dict):
        return compute_value(self.model, self.tok, self.arch, request, self.layers[-1],
                             self.context_templates, self.hp, init_site="layer")

    def current_z(self, request: dict) -> torch.Tensor:
        """Residual stream at the last edited layer's output, subject token, bare prompt: ``(d,)``."""
        z_layer = self.layers[-1]
        pair = [(to_template(request["prompt"], request["subject"]), request["subject"])]
        return reprs_at_subject(self.model, self.tok, self.arch, [z_layer], pair, self.hp["fact_token"], "out",
                                module=self.arch.layer)[z_layer][0]

    def keys(self, request: dict, layer: int) -> torch.Tensor:
        return compute_keys(self.model, self.tok, self.arch, layer, [request], self.context_templates,
                            self.hp["fact_token"])[0]

    def set_weight(self, layer: int, value: torch.Tensor) -> None:
        w = self.weight(layer)
        with torch.no_grad():
            w.copy_((value.T if self.arch.transposed else value).to(w.dtype))

    def get_weight(self, layer: int) -> torch.Tensor:
        w = self.weight(layer).detach()
        return w.T if self.arch.transposed else w

    def edit(self, request: dict) -> dict:
        value = self.value(request)
        lam = float(self.hp["mom2_update_weight"])
        n_layers = len(self.layers)
        for i, layer in enumerate(self.layers):
            k = self.keys(request, layer).to(torch.float64).unsqueeze(1)  # (d_in, 1)
            resid = (value.target - self.current_z(request)).to(torch.float64).unsqueeze(1)  # (d_out, 1)
            cov = self.stats.mom2(layer).to(torch.float64)
            adj_k = torch.linalg.solve(lam * cov + k @ k.T, k)
            upd = (resid / (n_layers - i)) @ adj_k.T
            self.set_weight(layer, self.get_weight(layer).to(torch.float64) + upd)
        return {"z_prob_first": value.prob_first, "z_prob_last": value.prob_last, "z_steps": value.steps}
