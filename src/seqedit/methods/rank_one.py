"""D4S's closed form kept up to date in O(d^2) per edit instead of a fresh O(d^3) solve.

D4S deploys ``Delta = A/s (B + lambda C0)^-1`` after each edit, where the edit adds ``r k^T`` to ``A`` and
``k k^T`` to ``B``: a rank-one change of both. With ``M = B + lambda C0``, ``u = M^-1 k`` and
``c = 1 + k^T u`` (Sherman-Morrison):

    M_new^-1 = M^-1 - u u^T / c
    A_new M_new^-1 = A M^-1 + (r - A M^-1 k) u^T / c

so ``P = A M^-1`` and ``M^-1`` are updated with a few matrix-vector products. Every ``resolve_every`` edits (and
at the first edit of a process, e.g. after resuming from a checkpoint) the exact linear solve of the authors'
code is used instead and ``M^-1`` is rebuilt, which bounds the round-off that the updates accumulate.
``resolve_every: 1`` is the plain solve every edit (no ``M^-1`` kept: less memory).
"""
from __future__ import annotations

import torch


def exact_solve_due(resolve_every: int, kept: bool, edit_index: int) -> bool:
    """Whether an edit runs the exact solve: always at ``resolve_every`` 1, when nothing is kept yet (a process's
    first edit), and at every ``resolve_every``-th edit of the chain (1-based ``edit_index``)."""
    return resolve_every == 1 or not kept or edit_index % resolve_every == 0


class IncrementalSolve:
    """``A (B + lambda C0)^-1`` for running sums ``A`` (d_out x d_in) and ``B`` (d_in x d_in), float64."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor, cov, lam: float, resolve_every: int = 1):
        if resolve_every < 1:
            raise ValueError(f"resolve_every must be >= 1, got {resolve_every}")
        self.a, self.b = a, b
        self.cov = cov  # callable returning C0 (float64, on b's device), read only when an exact solve runs
        self.lam = lam
        self.resolve_every = resolve_every
        self.minv: torch.Tensor | None = None
        self.p: torch.Tensor | None = None  # A M^-1
        self.n_exact = 0

    def add(self, r: torch.Tensor, k: torch.Tensor, edit_index: int) -> torch.Tensor:
        """Add ``r k^T`` to A and ``k k^T`` to B (in place); return ``A M^-1`` after the update.

        ``edit_index`` (1-based, counted over the whole chain) decides when the exact solve runs, so the result does
        not depend on where a run was split into checkpoints other than at process starts."""
        r = r.to(self.a.device, torch.float64)
        k = k.to(self.b.device, torch.float64)
        exact = exact_solve_due(self.resolve_every, self.minv is not None, edit_index)
        if not exact:
            u = self.minv @ k
            c = float(1.0 + torch.dot(k, u))
            self.p.addr_((r - self.p @ k) / c, u)  # in place, no d x d temporaries
            self.minv.addr_(u, u, alpha=-1.0 / c)
        self.a.addr_(r, k)
        self.b.addr_(k, k)
        if exact:
            return self.solve()
        return self.p

    def solve(self) -> torch.Tensor:
        """The exact ``A M^-1`` (a linear solve, as the authors' code); rebuilds ``M^-1`` when it is kept."""
        self.n_exact += 1
        m = self.b + self.lam * self.cov()
        if self.resolve_every == 1:
            self.minv = self.p = None
            return torch.linalg.solve(m, self.a, left=False)
        chol, info = torch.linalg.cholesky_ex(m)
        # M is symmetric positive definite for real statistics; a rank-deficient C0 (tiny test corpora) falls
        # back to the LU inverse
        self.minv = torch.cholesky_inverse(chol) if int(info) == 0 else torch.linalg.inv(m)
        self.p = torch.linalg.solve(m, self.a, left=False)
        return self.p
