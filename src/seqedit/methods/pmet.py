"""PMET, "Precise Model Editing in a Transformer" (Li et al., AAAI 2024), as EasyEdit runs it.

Follows zjunlp/EasyEdit ``easyeditor/models/pmet/{pmet_main.py, compute_zs.py, compute_ks.py}`` (the same code as
the authors' xpq-tech/PMET ``edit/pmet``), applied one request at a time, with ``rewrite_module_tmps`` = the MLP
output projection only (EasyEdit's ``hparams/PMET/*.yaml``).

Value optimisation (``compute_zs``), at the last edited layer ``L``: two vectors are optimised jointly with Adam,
``delta_a`` added to the attention output (``o_proj`` / ``out_proj``) and ``delta_m`` added to the FFN output
(``down_proj`` / ``fc_out``) of layer ``L``, at the subject's last token of every prompt:

    loss = nll_loss_factor' * NLL(target | prompts) + kl_factor * KL("{subject} is a")
           + v_weight_decay * (|delta_m| / |m0|^2 + |delta_a| / |a0|^2)

``m0``, ``a0``: the FFN / attention outputs at the subject token before the optimisation; after each Adam step
each delta is clamped to ``clamp_norm_factor`` times its own ``|m0|`` / ``|a0|``. Stops when ``loss < 5e-2``; when
the target is already the argmax at every target position, ``nll_loss_factor'`` drops to ``0.1 nll_loss_factor``
for the next step, and the loop stops if also ``kl_loss <= 0.01``; otherwise ``nll_loss_factor' =
nll_loss_factor``. Result: ``m* = m0 + delta_m`` (and ``a* = a0 + delta_a``, computed but unused: only the FFN
weights are rewritten).

Update (``execute_pmet``): for each edited layer i (in order, the earlier ones already updated), keys ``K`` = input
of the FFN output projection at the subject's last token averaged over the context templates (MEMIT's keys),
residual ``R = (m* - m_L) / sqrt(L_count - i)`` with ``m_L`` the *FFN output* of layer ``L`` (not the residual
stream) at the current model on the bare prompt, and

    Delta_i = R K^T (K K^T + mom2_update_weight * C_i)^-1,    W_i <- W_i + Delta_i

(a linear solve here, ``torch.inverse`` in the reference), ``C_i`` the uncentred second moment of the layer's keys.
The square root (instead of MEMIT's ``1/(L_count - i)``) is the reference's layer-wise residual distribution.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..nethooks import capture, get_module, run
from ..tokens import to_template
from .base import register
from .keys import reprs_at_subject
from .memit import MEMIT, MEMIT_REQUIRED
from .upper import UpperForward
from .value_opt import value_prompts


@dataclass
class PMETValues:
    mlp_target: torch.Tensor  # m* = m0 + delta_m, (d,)
    mlp_init: torch.Tensor
    attn_target: torch.Tensor  # a* = a0 + delta_a (not used by the update, as in the reference)
    attn_init: torch.Tensor
    prob_first: float
    prob_last: float
    steps: int

    @property
    def mlp_delta(self) -> torch.Tensor:
        return self.mlp_target - self.mlp_init

    @property
    def attn_delta(self) -> torch.Tensor:
        return self.attn_target - self.attn_init


class _DeltaSites:
    """Forward hooks adding ``delta_a`` / ``delta_m`` to the attention / FFN output of one layer at given positions.

    Inactive while ``rows`` is None (e.g. while the upper blocks fill their prefix cache)."""

    def __init__(self, model, attn_name: str, mlp_name: str, delta_attn: torch.Tensor, delta_mlp: torch.Tensor):
        self.rows = self.cols = None
        self.handles = [get_module(model, attn_name).register_forward_hook(self._hook(delta_attn)),
                        get_module(model, mlp_name).register_forward_hook(self._hook(delta_mlp))]

    def _hook(self, delta):
        def hook(mod, args, out):
            if self.rows is None:
                return None
            h = out[0] if isinstance(out, tuple) else out
            h = h.index_put((self.rows, self.cols), delta.to(h.dtype).unsqueeze(0).expand(len(self.rows), -1),
                            accumulate=True)
            return (h,) + tuple(out[1:]) if isinstance(out, tuple) else h
        return hook

    def remove(self):
        for h in self.handles:
            h.remove()


def compute_pmet_values(model, tok, arch, request: dict, layer: int, context_templates, hp: dict,
                        prefix_cache: bool = True) -> PMETValues:
    """EasyEdit's PMET ``compute_zs``: jointly optimised attention and FFN output deltas at ``layer``."""
    device = next(model.parameters()).device
    vp = value_prompts(tok, request, context_templates, hp, device)
    enc, lookup, n_rw, n_t = vp.enc, vp.lookup, vp.n_rw, vp.n_t
    rows, cols, tgt, look_rows, look_cols = vp.rows, vp.cols, vp.tgt, vp.look_rows, vp.look_cols

    block = arch.layer.format(layer)
    attn_name, mlp_name = arch.attn_out.format(layer), arch.mlp_out.format(layer)
    with torch.no_grad(), capture(model, inputs=[block], outputs=[attn_name, mlp_name], stop_after=block) as st:
        run(model, input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
    h_in = st[("in", block)]  # residual stream entering the edited block: constant during the optimisation
    attn_init = st[("out", attn_name)][0, lookup[0]].detach().clone()
    mlp_init = st[("out", mlp_name)][0, lookup[0]].detach().clone()

    loss_layer = max(int(hp["v_loss_layer"]), layer)
    # the blocks from `layer` on are re-run (the attention delta also feeds this block's FFN)
    upper = UpperForward(model, arch, layer - 1, loss_layer, enc["attention_mask"], enc["input_ids"], lookup,
                         prefix_cache=prefix_cache)
    if not upper.fast and layer == 0:
        raise NotImplementedError(f"PMET at layer 0 needs a fast architecture ({arch.name} is not)")
    lm_head = model.get_output_embeddings()

    dtype = torch.float32
    delta_attn = torch.zeros(attn_init.shape[-1], device=device, dtype=dtype, requires_grad=True)
    delta_mlp = torch.zeros(mlp_init.shape[-1], device=device, dtype=dtype, requires_grad=True)
    opt = torch.optim.Adam([delta_mlp, delta_attn], lr=float(hp["v_lr"]))
    sites = _DeltaSites(model, attn_name, mlp_name, delta_attn, delta_mlp)
    out_rows, out_cols = torch.cat([rows, look_rows[n_rw:]]), torch.cat([cols, look_cols[n_rw:]])
    nll_base = float(hp.get("nll_loss_factor", 1.0))
    nll_factor = nll_base
    kl_factor, wd_factor = float(hp["kl_factor"]), float(hp["v_weight_decay"])
    clamp = float(hp["clamp_norm_factor"])
    norm_m, norm_a = mlp_init.float().norm(), attn_init.float().norm()
    steps = int(hp["v_num_grad_steps"])
    kl_init = None
    probs: list[float] = []
    it = 0
    try:
        if upper.use_cache:  # prefixes (positions before the subject token) do not see the deltas
            upper._build_prefix(h_in)
            sites.rows, sites.cols = look_rows, torch.zeros_like(look_cols)  # suffixes start at the subject token
        else:
            sites.rows, sites.cols = look_rows, look_cols
        for it in range(steps):
            opt.zero_grad()
            final = upper.final_at(h_in, out_rows, out_cols)
            logp = torch.log_softmax(lm_head(final[: len(rows)]).float(), dim=-1)
            tok_logp = logp.gather(1, tgt.unsqueeze(1)).squeeze(1)
            # the reference's `max_prob == prob`: the target is the argmax at every target position
            all_argmax = bool((logp.detach().max(-1).values == tok_logp.detach()).all())
            nll_each = -tok_logp.view(n_rw, n_t).sum(1) / n_t
            kl_logp = torch.log_softmax(lm_head(final[len(rows):]).float(), dim=-1)
            if kl_init is None:
                kl_init = kl_logp.detach().clone()
            kl = kl_factor * torch.nn.functional.kl_div(kl_init, kl_logp, log_target=True, reduction="batchmean")
            wd = wd_factor * (delta_mlp.norm() / norm_m ** 2 + delta_attn.norm() / norm_a ** 2)
            loss = nll_factor * nll_each.mean() + kl + wd
            probs.append(torch.exp(-nll_each).mean().item())
            if loss.item() < 5e-2:
                break
            if all_argmax:
                nll_factor = 0.1 * nll_base
                if kl.item() <= 0.01:
                    break
            else:
                nll_factor = nll_base
            if it == steps - 1:
                break
            loss.backward()
            opt.step()
            with torch.no_grad():
                for delta, ref in ((delta_mlp, norm_m), (delta_attn, norm_a)):
                    max_norm = clamp * ref
                    if delta.norm() > max_norm:
                        delta.mul_(max_norm / delta.norm())
    finally:
        sites.remove()
    d_m = delta_mlp.detach().to(mlp_init.dtype)
    d_a = delta_attn.detach().to(attn_init.dtype)
    return PMETValues(mlp_target=mlp_init + d_m, mlp_init=mlp_init, attn_target=attn_init + d_a,
                      attn_init=attn_init, prob_first=probs[0], prob_last=probs[-1], steps=it + 1)


@register
class PMET(MEMIT):
    name = "pmet"
    required = MEMIT_REQUIRED + ("nll_loss_factor",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.probe: list | None = None  # tests set a list: per layer the keys, the divided residual, the update

    def value(self, request: dict) -> PMETValues:
        return compute_pmet_values(self.model, self.tok, self.arch, request, self.layers[-1],
                                   self.context_templates, self.hp)

    def current_mlp_out(self, request: dict) -> torch.Tensor:
        """FFN output of the last edited layer at the subject token, bare prompt: ``(d,)``."""
        z_layer = self.layers[-1]
        pair = [(to_template(request["prompt"], request["subject"]), request["subject"])]
        return reprs_at_subject(self.model, self.tok, self.arch, [z_layer], pair, self.hp["fact_token"],
                                "out")[z_layer][0]

    def edit(self, request: dict) -> dict:
        value = self.value(request)
        lam = float(self.hp["mom2_update_weight"])
        n_layers = len(self.layers)
        for i, layer in enumerate(self.layers):
            k = self.keys(request, layer).to(torch.float64).unsqueeze(1)  # (d_in, 1)
            resid = (value.mlp_target - self.current_mlp_out(request)).to(torch.float64).unsqueeze(1)
            resid = resid / math.sqrt(n_layers - i)  # the reference's layer-wise distribution
            cov = self.stats.mom2(layer).to(k.device, torch.float64)
            upd = resid @ torch.linalg.solve(k @ k.T + lam * cov, k).T  # R K^T (K K^T + lam C)^-1 (symmetric)
            if self.probe is not None:
                self.probe.append({"layer": layer, "k": k.squeeze(1).clone(), "resid": resid.squeeze(1).clone(),
                                   "delta": upd.clone()})
            self.set_weight(layer, self.get_weight(layer).to(torch.float64) + upd)
        return {"z_prob_first": value.prob_first, "z_prob_last": value.prob_last, "z_steps": value.steps,
                "mlp_delta_norm": value.mlp_delta.norm().item(), "attn_delta_norm": value.attn_delta.norm().item()}
