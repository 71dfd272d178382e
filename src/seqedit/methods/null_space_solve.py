"""AlphaEdit's per-layer solve in O(d^2) per edit instead of a fresh O(d^3) solve (issue 10).

The reference (jianghoucheng/AlphaEdit, ``AlphaEdit_main.py``) solves, per edited layer and edit,
``X = (P (K K^T + C) + L2 I)^-1 P K R^T`` with ``C`` the running sum of the earlier edits' ``K K^T``. One request
per edit gives one key column ``k`` and residual ``r``: with ``M = P C + L2 I`` (not symmetric), ``u = M^-1 P k``
and Sherman-Morrison,

    (M + (P k) k^T)^-1 P k = u / (1 + k^T u)       so   X = u r^T / (1 + k^T u),

and after the edit the reference adds the key ``k'`` (at the updated model) to ``C``, i.e. ``M += (P k') k'^T``:

    M^-1 <- M^-1 - (M^-1 P k') (k'^T M^-1) / (1 + k'^T M^-1 P k').

Every ``resolve_every`` edits (counted over the whole chain), and at the first edit of a process (after resuming
from a checkpoint ``M^-1`` is rebuilt, not stored), the reference's exact solve runs and ``M^-1`` is recomputed,
which bounds the round-off the updates accumulate. ``resolve_every: 1`` (the default) is the reference's code path
exactly, with no ``M^-1`` kept.
"""
from __future__ import annotations

import torch

from .rank_one import exact_solve_due


class NullSpaceSolve:
    """``X`` of one AlphaEdit layer for projector ``p`` and key cache ``cache_c`` (both d_in x d_in, float64).

    ``cache_c`` is updated in place where it lives (the state device); the solves run on ``device``."""

    def __init__(self, p: torch.Tensor, cache_c: torch.Tensor, l2: float, resolve_every: int = 1, device=None):
        if resolve_every < 1:
            raise ValueError(f"AlphaEdit resolve_every must be >= 1, got {resolve_every}")
        self.device = device if device is not None else cache_c.device
        self.p, self.c, self.l2, self.resolve_every = p.to(self.device), cache_c, l2, resolve_every
        self.minv: torch.Tensor | None = None  # (P C + L2 I)^-1, kept only when resolve_every > 1
        self.n_exact = 0

    def _eye(self) -> torch.Tensor:
        return torch.eye(self.c.shape[0], dtype=torch.float64, device=self.device)

    def delta(self, k: torch.Tensor, r: torch.Tensor, edit_index: int) -> torch.Tensor:
        """``X`` (d_in x d_out) for key ``k`` (d_in) and residual ``r`` (d_out) at 1-based ``edit_index``."""
        k = k.to(self.device, torch.float64)
        r = r.to(self.device, torch.float64)
        if exact_solve_due(self.resolve_every, self.minv is not None, edit_index):
            self.n_exact += 1
            kc, c = k.unsqueeze(1), self.c.to(self.device)
            x = torch.linalg.solve(self.p @ (kc @ kc.T + c) + self.l2 * self._eye(), self.p @ kc @ r.unsqueeze(0))
            if self.resolve_every > 1:
                self.minv = torch.linalg.inv(self.p @ c + self.l2 * self._eye())
            return x
        u = self.minv @ (self.p @ k)
        return torch.outer(u / (1.0 + torch.dot(k, u)), r)

    def add_key(self, k: torch.Tensor) -> None:
        """``C += k k^T`` (in place) and, when kept, ``M^-1`` by the rank-one update."""
        k = k.to(self.device, torch.float64)
        if self.minv is not None:  # kept only when resolve_every > 1
            u = self.minv @ (self.p @ k)
            v = self.minv.T @ k  # row k^T M^-1
            self.minv.addr_(u, v, alpha=-1.0 / (1.0 + torch.dot(k, u).item()))
        self.c += torch.outer(k, k).to(self.c.device)  # as the reference (and the code before the rank-one path)
