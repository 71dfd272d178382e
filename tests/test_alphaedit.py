"""AlphaEdit on the real SmolLM2-135M: null-space projection of the update, edit efficacy, checkpointable state."""
from __future__ import annotations


import pytest
import torch

from edit_fixtures import make_method, REQUESTS, next_token_prob, restore, snapshot
from seqedit.methods.alphaedit import null_space_projector
from seqedit.methods.value_opt import target_token_ids
from seqedit.models.registry import get_model_spec

pytestmark = pytest.mark.slow
ARCH = get_model_spec("smollm2-135m").architecture
LAYERS = [4, 5, 6, 7, 8]


make = make_method


def deltas(method, request):
    before = {l: method.get_weight(l).double().clone() for l in method.layers}
    method.edit(request)
    return {l: method.get_weight(l).double() - before[l] for l in method.layers}


def kept_basis(stats, layer, threshold):
    """Eigenvectors of the second moment with eigenvalue >= threshold: the directions AlphaEdit preserves."""
    evals, evecs = torch.linalg.eigh(stats.mom2(layer).double())
    return evecs[:, evals >= threshold]


def test_update_vanishes_on_preserved_keys_unlike_memit(clean_model, full_rank_stats):
    stats = full_rank_stats
    model, tok = clean_model
    req = REQUESTS[3]
    saved = snapshot(model, [f"{ARCH.mlp_out.format(i)}.weight" for i in LAYERS])
    alpha = make("alphaedit", model, tok, stats, v_num_grad_steps=6)
    thr = float(alpha.hp["nullspace_threshold"])
    alpha_d = deltas(alpha, req)
    restore(model, saved)
    memit_d = deltas(make("memit", model, tok, stats, v_num_grad_steps=6), req)
    for layer in LAYERS:
        keep = kept_basis(stats, layer, thr)
        assert 0 < keep.shape[1] < keep.shape[0], "the threshold must split the spectrum for this test to mean anything"
        a, m = alpha_d[layer], memit_d[layer]
        assert a.norm() > 1e-4, f"layer {layer}: AlphaEdit did not update"
        ratio_alpha = ((a @ keep).norm() / a.norm()).item()
        ratio_memit = ((m @ keep).norm() / m.norm()).item()
        assert ratio_alpha < 1e-3, f"layer {layer}: ||Delta V_keep||/||Delta|| = {ratio_alpha:.2e}"
        # MEMIT (observed ~5e-2) writes into the preserved directions; AlphaEdit (~2e-6, float32 round-off) does not
        assert ratio_memit > max(1e-2, 100 * ratio_alpha), f"layer {layer}: MEMIT ratio {ratio_memit:.2e}"
        p = alpha.state_dict()[f"P.{layer}"]
        assert torch.allclose(p @ p, p, atol=1e-8) and torch.allclose(p, p.T)


def test_edit_raises_target_probability(clean_model, stats):
    model, tok = clean_model
    req = REQUESTS[3]
    tid = target_token_ids(tok, req["target_new"])[0]

    def prob():
        return next_token_prob(model, tok, req["prompt"], tid)

    p0 = prob()
    log = make("alphaedit", model, tok, stats, v_num_grad_steps=6).edit(req)
    assert log["z_prob_last"] > log["z_prob_first"]
    assert prob() > 2 * p0, f"p(target) {p0:.3e} -> {prob():.3e}"


def test_state_round_trips_and_does_not_grow(clean_model, stats):
    model, tok = clean_model
    alpha = make("alphaedit", model, tok, stats, v_num_grad_steps=1)

    def size(state):
        return sum(t.numel() * t.element_size() for t in state.values())

    alpha.edit(REQUESTS[0])
    after_one = size(alpha.state_dict())
    c_one = alpha.state_dict()[f"cache_c.{LAYERS[0]}"].clone()
    for r in REQUESTS[1:3]:
        alpha.edit(r)
    state = alpha.state_dict()
    assert set(state) == {f"{s}.{l}" for s in ("P", "cache_c") for l in LAYERS} | {"n_applied"}
    assert int(state["n_applied"]) == 3
    assert size(state) == after_one
    c = state[f"cache_c.{LAYERS[0]}"]
    assert torch.allclose(c, c.T) and torch.trace(c) > torch.trace(c_one) > 0  # sums K K^T over edits
    thr = float(alpha.hp["nullspace_threshold"])
    for l in LAYERS:
        assert torch.allclose(state[f"P.{l}"], null_space_projector(stats.mom2(l), thr))
    fresh = make("alphaedit", model, tok, stats, v_num_grad_steps=1)
    fresh.load_state_dict({k: v.clone() for k, v in state.items()})
    loaded = fresh.state_dict()
    assert set(loaded) == set(state)
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    with pytest.raises(ValueError):
        fresh.load_state_dict({k: v for k, v in state.items() if not k.startswith("P.")})
