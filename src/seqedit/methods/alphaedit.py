"""AlphaEdit (Fang et al., ICLR 2025): MEMIT's update projected onto the null space of the preserved keys.

Follows jianghoucheng/AlphaEdit (``AlphaEdit/AlphaEdit_main.py`` and ``get_project`` in ``experiments/evaluate.py``),
applied one request at a time. Per edited layer:

* ``P = U U^T`` with ``U`` the eigenvectors of the layer's second moment ``C0`` (stats ``mom2``, standing for
  ``K0 K0^T``) whose eigenvalues are below ``nullspace_threshold``; computed once, kept in the state.
* ``cache_c``: running sum of ``K K^T`` of the earlier edits' keys (recomputed after all layers of an edit are
  updated, as the reference does).

Step: ``z`` from the value optimisation at the last edited layer; for each edited layer i in order: keys ``K`` and
residual ``R = (z - h_L) / (L - i)`` at the current model, then (the reference's
``torch.linalg.solve(P @ (layer_ks @ layer_ks.T + cache_c) + hparams.L2*I, P @ layer_ks @ resid.T)``)
``X = (P (K K^T + cache_c) + L2 I)^-1 P K R^T`` (d_in x d_out) and ``W <- W + X^T``. ``X`` lies in the range of
``P`` (``L2 X = P (K R^T - (K K^T + cache_c) X)``), so ``Delta v = 0`` for every ``v`` orthogonal to it, i.e. the
preserved (large-eigenvalue) directions of ``C0``.

Compute setting ``resolve_every`` (> 1: rank-one updates in O(d^2) per edit with the exact solve every that many
edits; float round-off only, tests/test_alphaedit_speed.py): :mod:`.null_space_solve`.
"""
from __future__ import annotations

import torch

from .base import register
from .memit import MEMIT, MEMIT_REQUIRED
from .null_space_solve import NullSpaceSolve


@register
class AlphaEdit(MEMIT):
    name = "alphaedit"
    required = tuple(k for k in MEMIT_REQUIRED if k != "mom2_update_weight") + ("nullspace_threshold", "L2")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.state: dict[str, torch.Tensor] = {}
        for layer in self.layers:
            d_in = self.get_weight(layer).shape[1]
            self.state[f"cache_c.{layer}"] = torch.zeros(d_in, d_in, dtype=torch.float64, device=self.state_device)
        self.n_applied = 0  # edits over the whole chain (restored from the state): schedules the exact solves
        self._solvers: dict[int, NullSpaceSolve] = {}

    @property
    def state_device(self):
        return self.hp.get("sum_device") or self.device

    def projector(self, layer: int) -> torch.Tensor:
        """``P`` of ``layer``, computed from the second moment on first use (or taken from a loaded checkpoint)."""
        key = f"P.{layer}"
        if key not in self.state:
            self.state[key] = null_space_projector(self.stats.mom2(layer), float(self.hp["nullspace_threshold"])
                                                   ).to(self.state_device)
        return self.state[key]

    def solver(self, layer: int) -> NullSpaceSolve:
        if layer not in self._solvers:
            self._solvers[layer] = NullSpaceSolve(
                self.projector(layer), self.state[f"cache_c.{layer}"], float(self.hp["L2"]),
                int(self.hp.get("resolve_every", 1)), device=self.device)
        return self._solvers[layer]

    def edit(self, request: dict) -> dict:
        value = self.value(request)
        self.n_applied += 1
        n_layers = len(self.layers)
        for i, layer in enumerate(self.layers):
            k = self.keys(request, layer).to(torch.float64)
            resid = (value.target - self.current_z(request)).to(torch.float64) / (n_layers - i)
            x = self.solver(layer).delta(k, resid, self.n_applied)  # (d_in, d_out)
            self.set_weight(layer, self.get_weight(layer).to(torch.float64) + x.T)
        for layer in self.layers:  # the reference adds the keys at the fully updated model
            self.solver(layer).add_key(self.keys(request, layer).to(torch.float64))
        return {"z_prob_first": value.prob_first, "z_prob_last": value.prob_last, "z_steps": value.steps}

    def state_dict(self) -> dict[str, torch.Tensor]:
        for layer in self.layers:
            self.projector(layer)
        return {**self.state, "n_applied": torch.tensor([self.n_applied], dtype=torch.int64)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        state = dict(state)
        n_applied = state.pop("n_applied", None)  # absent in checkpoints written before the rank-one path
        expected = {f"{s}.{layer}" for s in ("P", "cache_c") for layer in self.layers}
        if set(state) != expected:
            raise ValueError(f"AlphaEdit state has keys {sorted(state)}, expected {sorted(expected)}")
        self.state = {k: v.to(self.state_device, torch.float64).clone() for k, v in state.items()}
        self.n_applied = int(n_applied.item()) if n_applied is not None else 0
        self._solvers = {}  # M^-1 is rebuilt (exact solve) at the next edit


def null_space_projector(mom2: torch.Tensor, threshold: float) -> torch.Tensor:
    """``U U^T`` over the eigenvectors of the symmetric PSD ``mom2`` with eigenvalue below ``threshold``."""
    evals, evecs = torch.linalg.eigh(mom2.to(torch.float64))
    u = evecs[:, evals < threshold]
    return u @ u.T
