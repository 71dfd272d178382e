"""D4S, "Dump for Sequence" (Huang et al., NeurIPS 2024; the authors' patch of EasyEdit's MEMIT).

Per edited layer two running sums in float64: ``A = sum_s R_s K_s^T`` (d_out x d_in) and ``B = sum_s K_s K_s^T``
(d_in x d_in): O(1) memory in the number of edits. Step t, on the original weights W0: ``z_t`` from the value
optimisation, residual ``R_t = z_t - h_L`` computed once before the layer loop; for each edited layer i (in
order): keys ``K_t`` (earlier layers already at ``W0 + Delta(t)``), ``A += R_t K_t^T``, ``B += K_t K_t^T``,
``Delta_i = A/(L-i) (B + lambda C0)^-1``; the deployed weight is ``W0 + Delta_i``. This equals batch MEMIT's
closed form over the whole history of keys and residuals.

Two ways to the same numbers, faster (hyperparameters ``value_block`` and ``resolve_every``, compute settings that
change results only at float round-off; tests/test_d4s_speed.py):
* ``z_t`` depends only on W0 and the request, so the values of ``value_block`` upcoming requests are optimised in
  one batch (:func:`compute_values`) when the first of them is edited; the rest of each edit runs in order. The
  block's rows have suffixes of unequal length, packed into shared slots rather than padded (:mod:`.packed_suffix`).
* ``Delta_i`` is kept up to date by rank-one updates (:mod:`.rank_one`), with the exact solve every
  ``resolve_every`` edits.
"""
from __future__ import annotations

import torch

from .base import register
from .memit import MEMIT
from .rank_one import IncrementalSolve
from .value_opt import compute_values


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
        self.n_applied = 0  # edits applied over the whole chain (restored from the state when resuming)
        self._plan: list[dict] = []  # the weight edits the runner will apply next, in order
        self._values: dict[int, object] = {}  # plan position -> value computed in a block
        self._cursor = 0
        self._solvers: dict[int, IncrementalSolve] = {}

    @property
    def sum_device(self):
        return self.hp.get("sum_device") or self.device

    # -- blocks of values ----------------------------------------------------------------------------------
    def upcoming(self, requests: list[dict]) -> None:
        """The runner announces the weight edits it is about to apply, in order (lets values run in blocks)."""
        self._plan, self._values, self._cursor = list(requests), {}, 0

    def block_value(self, request: dict):
        """The request's value, optimised together with the next ``value_block - 1`` planned requests."""
        pos = self._cursor
        if pos >= len(self._plan) or self._plan[pos]["id"] != request["id"]:
            self._plan, self._values, self._cursor = [], {}, 0  # not the announced order: one at a time
            return self.value(request)
        self._cursor += 1
        if pos not in self._values:
            block = self._plan[pos:pos + max(1, int(self.hp.get("value_block", 1)))]
            values = compute_values(self.model, self.tok, self.arch, block, self.layers[-1], self.context_templates,
                                    self.hp, init_site="layer")
            self._values.update({pos + j: v for j, v in enumerate(values)})
        return self._values.pop(pos)

    # -- one edit ------------------------------------------------------------------------------------------
    def edit(self, request: dict) -> dict:
        for layer in self.layers:  # z and keys are computed on the original weights
            self.set_weight(layer, self.w0[layer])
        value = self.block_value(request)
        resid = (value.target - self.current_z(request)).to(torch.float64)  # once, before the layer loop
        self.n_applied += 1
        n_layers = len(self.layers)
        for i, layer in enumerate(self.layers):
            k = self.keys(request, layer).to(torch.float64)
            if self.history_probe is not None:
                self.history_probe.append((layer, k.clone(), resid.clone()))
            delta = self.solver(layer).add(resid, k, self.n_applied) / (n_layers - i)
            self.set_weight(layer, self.w0[layer].to(torch.float64) + delta.to(self.w0[layer].device))
        return {"z_prob_first": value.prob_first, "z_prob_last": value.prob_last, "z_steps": value.steps}

    def solver(self, layer: int) -> IncrementalSolve:
        if layer not in self._solvers:
            a, b = self.sums[f"A.{layer}"], self.sums[f"B.{layer}"]
            self._solvers[layer] = IncrementalSolve(
                a, b, lambda: self.stats.mom2(layer).to(b.device, torch.float64), float(self.hp["mom2_update_weight"]),
                int(self.hp.get("resolve_every", 1)))
        return self._solvers[layer]

    # -- state that survives between checkpoints -------------------------------------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        return {**self.sums, "n_applied": torch.tensor([self.n_applied], dtype=torch.int64)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        state = dict(state)
        n_applied = state.pop("n_applied", None)
        expected = set(self.sums)
        if set(state) != expected:
            raise ValueError(f"D4S state has keys {sorted(state)}, expected {sorted(expected)}")
        for k, v in state.items():
            self.sums[k] = v.to(self.sums[k].device, torch.float64).clone()
        self.n_applied = int(n_applied.item()) if n_applied is not None else 0
        self._solvers = {}  # rebuilt from the loaded sums (exact solve) at the next edit
