"""AlphaEdit's rank-one path (compute setting ``resolve_every``) gives the reference's solve to float round-off."""
from __future__ import annotations

import pytest
import torch

from edit_fixtures import REQUESTS, make_method
from seqedit.methods.null_space_solve import NullSpaceSolve


def _projector(d: int, rank: int, gen) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(d, rank, generator=gen, dtype=torch.float64))
    return q @ q.T


def _reference_x(p, c, k, r, l2):
    """The reference's line: solve(P (K K^T + cache_c) + L2 I, P K R^T) for one key column."""
    kc = k.unsqueeze(1)
    eye = torch.eye(p.shape[0], dtype=torch.float64)
    return torch.linalg.solve(p @ (kc @ kc.T + c) + l2 * eye, p @ kc @ r.unsqueeze(0))


def test_rank_one_updates_equal_the_reference_solve_after_1000_edits():
    gen = torch.Generator().manual_seed(0)
    d_in, d_out, l2 = 64, 24, 10.0
    p = _projector(d_in, 40, gen)
    cache = torch.zeros(d_in, d_in, dtype=torch.float64)
    solver = NullSpaceSolve(p, cache, l2, resolve_every=10**9)  # exact only at the first edit
    worst = 0.0
    for t in range(1, 1001):
        k = torch.randn(d_in, generator=gen, dtype=torch.float64)
        r = torch.randn(d_out, generator=gen, dtype=torch.float64)
        want = _reference_x(p, cache.clone(), k, r, l2)
        got = solver.delta(k, r, t)
        worst = max(worst, ((got - want).norm() / want.norm()).item())
        solver.add_key(k + 0.1 * torch.randn(d_in, generator=gen, dtype=torch.float64))  # k' at the updated model
    assert solver.n_exact == 1
    assert worst < 1e-8, worst
    # the kept inverse is that of P C + L2 I for the cache after 1000 keys
    m = p @ cache + l2 * torch.eye(d_in, dtype=torch.float64)
    assert ((solver.minv @ m - torch.eye(d_in, dtype=torch.float64)).abs().max()).item() < 1e-9


def test_resolve_every_1_is_the_reference_line_bit_for_bit_and_keeps_no_inverse():
    gen = torch.Generator().manual_seed(1)
    p = _projector(16, 9, gen)
    cache = torch.randn(16, 16, generator=gen, dtype=torch.float64)
    cache = cache @ cache.T
    solver = NullSpaceSolve(p, cache, 10.0)
    k, r = torch.randn(16, generator=gen, dtype=torch.float64), torch.randn(5, generator=gen, dtype=torch.float64)
    want = _reference_x(p, cache.clone(), k, r, 10.0)
    assert torch.equal(solver.delta(k, r, 7), want)
    assert solver.minv is None
    before = cache.clone()
    solver.add_key(k)
    assert torch.equal(cache, before + torch.outer(k, k))  # in place, as `c += outer(k, k)` before


def test_resolve_every_runs_the_exact_solve_on_schedule():
    p = torch.eye(8, dtype=torch.float64)
    solver = NullSpaceSolve(p, torch.zeros(8, 8, dtype=torch.float64), 1.0, resolve_every=5)
    for t in range(1, 13):
        solver.delta(torch.full((8,), 0.1, dtype=torch.float64), torch.ones(3, dtype=torch.float64), t)
        solver.add_key(torch.full((8,), 0.1, dtype=torch.float64))
    assert solver.n_exact == 3  # edit 1 (nothing kept yet), 5, 10
    with pytest.raises(ValueError, match="resolve_every"):
        NullSpaceSolve(p, torch.zeros(8, 8, dtype=torch.float64), 1.0, resolve_every=0)


@pytest.mark.slow
def test_alphaedit_rank_one_equals_the_exact_chain(clean_model, stats):
    model, tok = clean_model
    plain = make_method("alphaedit", model, tok, stats, v_num_grad_steps=3, resolve_every=1)
    w0 = {layer: plain.get_weight(layer).clone() for layer in plain.layers}
    for request in REQUESTS:
        plain.edit(request)
    want_w = {layer: plain.get_weight(layer).double().clone() for layer in plain.layers}
    want_c = {k: v.clone() for k, v in plain.state.items() if k.startswith("cache_c")}
    for layer in plain.layers:
        plain.set_weight(layer, w0[layer])
    fast = make_method("alphaedit", model, tok, stats, v_num_grad_steps=3, resolve_every=1000)
    for request in REQUESTS:
        fast.edit(request)
    for layer in plain.layers:
        delta_want = want_w[layer] - w0[layer].double()
        delta_got = fast.get_weight(layer).double() - w0[layer].double()
        assert ((delta_got - delta_want).norm() / delta_want.norm()).item() < 1e-5, layer
    for key, want in want_c.items():
        assert ((fast.state[key] - want).norm() / want.norm()).item() < 1e-5, key
    assert fast.n_applied == len(REQUESTS)
    assert all(s.n_exact == 1 for s in fast._solvers.values())  # only the first edit solved exactly
    for layer in plain.layers:
        plain.set_weight(layer, w0[layer])


def test_bench_solve_prints_both_methods_with_small_drift():
    import re
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_solve.py"
    res = subprocess.run([sys.executable, str(script), "--dims", "48", "--edits", "30", "--threads", "1"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "d4s, per layer" in res.stdout and "alphaedit, per layer" in res.stdout
    rows = [line for line in res.stdout.splitlines() if line.startswith("| 48 |")]
    assert len(rows) == 2
    cells = [re.split(r"\s*\|\s*", row) for row in rows]
    drifts = [float(c[8]) for c in cells]
    assert all(d < 1e-8 for d in drifts), rows
    for c in cells:  # the flatness columns: medians over the first and the last window of rank-one updates
        early, late = float(c[6]), float(c[7])
        assert 0 <= early < 1 and 0 <= late < 1, c
