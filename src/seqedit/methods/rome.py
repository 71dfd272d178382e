"""ROME (Meng et al., 2022): a rank-one update of one MLP output projection (kmeng01/rome ``rome_main``).

For request (s, r, o*): ``u`` = the projection's input at the subject's last token averaged over context
templates (times ``C^-1`` when ``mom2_adjustment``), normalised; ``v*`` from the value optimisation at the MLP
output; ``right = (v* - W k*) / (k* . u)`` with ``k*`` the input on the bare prompt; ``W <- W + right u^T``.
Applied in place on the current model: sequential ROME accumulates updates.
"""
from __future__ import annotations

import torch

from ..tokens import to_template
from .base import EditMethod, register
from .keys import reprs_at_subject
from .value_opt import compute_value


@register
class ROME(EditMethod):
    name = "rome"
    required = ("layers", "fact_token", "v_num_grad_steps", "v_lr", "v_loss_layer", "v_weight_decay",
                "clamp_norm_factor", "kl_factor", "mom2_adjustment", "context_template_length_params")

    @classmethod
    def stats_layers(cls, hparams: dict) -> list[int]:
        return sorted(hparams["layers"]) if hparams.get("mom2_adjustment") else []

    def edit(self, request: dict) -> dict:
        from ..nethooks import get_parameter

        log = {"z_prob_first": None, "z_prob_last": None}
        for layer in sorted(self.hp["layers"]):
            u = self.left_vector(request, layer)
            value = compute_value(self.model, self.tok, self.arch, request, layer,
                                  self.context_templates, self.hp, init_site="mlp")
            template = to_template(request["prompt"], request["subject"])
            pair = [(template, request["subject"])]
            k_in = reprs_at_subject(self.model, self.tok, self.arch, [layer], pair, self.hp["fact_token"], "in")[layer][0]
            v_out = reprs_at_subject(self.model, self.tok, self.arch, [layer], pair, self.hp["fact_token"], "out")[layer][0]
            right = (value.target - v_out) / torch.dot(k_in, u)
            w = get_parameter(self.model, f"{self.arch.mlp_out.format(layer)}.weight")
            upd = torch.outer(right, u)  # (d_out, d_in)
            with torch.no_grad():
                w += (upd.T if self.arch.transposed else upd).to(w.dtype)
            if log["z_prob_first"] is None:
                log.update(z_prob_first=value.prob_first, z_prob_last=value.prob_last, z_steps=value.steps)
        return log

    def left_vector(self, request: dict, layer: int) -> torch.Tensor:
        template = to_template(request["prompt"], request["subject"])
        flat = [ctx for group in self.context_templates for ctx in group]
        pairs = [(ctx.replace("{}", template), request["subject"]) for ctx in flat]
        k = reprs_at_subject(self.model, self.tok, self.arch, [layer], pairs, self.hp["fact_token"], "in")[layer]
        u = k.mean(0)
        if self.hp.get("mom2_adjustment"):
            c = self.stats.mom2(layer).to(torch.float64)
            u = torch.linalg.solve(c, u.to(torch.float64)).to(u.dtype)
        return u / u.norm()

