"""FT-L, FT-M and GRACE on the real SmolLM2-135M: the constraint, the objective and the adaptor's locality."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from edit_fixtures import REQUESTS, restore, snapshot
from seqedit.methods import get_method
from seqedit.methods.hparams import load_hparams
from seqedit.methods.value_opt import target_token_ids
from seqedit.models.registry import get_model_spec

pytestmark = pytest.mark.slow
ROOT_HP = Path(__file__).resolve().parents[1] / "config" / "hparams"
ARCH = get_model_spec("smollm2-135m").architecture
N_LAYERS = 30


def make(method, model, tok, **overrides):
    hp = {**load_hparams(ROOT_HP / f"{method}.yaml", "smollm2-135m", "tuned"), **overrides}
    return get_method(method)(model, tok, ARCH, hp, None, [["{}"]])


def last_logits(model, tok, prompt):
    ids = tok(prompt, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return model(input_ids=ids).logits[0, -1]


def target_prob(model, tok, req):
    first = target_token_ids(tok, req["target_new"])[0]
    return torch.softmax(last_logits(model, tok, req["prompt"]).float(), -1)[first].item()


def test_ft_l_stays_in_the_linf_ball_of_one_layer_and_raises_the_target(clean_model):
    model, tok = clean_model
    ft = make("ft", model, tok)
    bound = float(ft.hp["norm_constraint"])
    names = [f"{ARCH.mlp_out.format(i)}.weight" for i in range(N_LAYERS)]
    before = snapshot(model, names)
    req = REQUESTS[0]
    p0 = target_prob(model, tok, req)
    log = ft.edit(req)
    params = dict(model.named_parameters())
    (edited,) = ft.edited_params()
    assert edited == f"{ARCH.mlp_out.format(ft.hp['layers'][0])}.weight"
    delta = (params[edited].detach() - before[edited]).abs().max().item()
    assert 0 < delta <= bound + 1e-7
    assert all(torch.equal(params[n], before[n]) for n in names if n != edited)
    assert target_prob(model, tok, req) > p0
    assert log["z_prob_last"] > log["z_prob_first"]


def test_ft_m_raises_the_target_probability(clean_model):
    model, tok = clean_model
    ftm = make("ft_m", model, tok)
    req = REQUESTS[1]
    p0 = target_prob(model, tok, req)
    log = ftm.edit(req)
    assert target_prob(model, tok, req) > p0
    assert log["z_prob_last"] > log["z_prob_first"]


def test_grace_is_local_keeps_weights_and_round_trips(smollm2):
    model, tok = smollm2
    names = [n for n, _ in model.named_parameters()]
    before = snapshot(model, names)
    far = "The weather in the mountains was cold and windy all week, and the hikers"
    far_unedited = last_logits(model, tok, far)
    cls = get_method("grace")
    grace = make("grace", model, tok, n_iter=25)
    try:
        reqs = REQUESTS[:2]
        for r in reqs:
            grace.edit(r)
        params = dict(model.named_parameters())
        assert all(torch.equal(params[n], before[n]) for n in names)  # base weights bit-identical
        assert len(grace.adaptor.keys) == 2
        for r in reqs:
            first = target_token_ids(tok, r["target_new"])[0]
            assert int(last_logits(model, tok, r["prompt"]).argmax()) == first

        # far prompt: every position's adaptor input lies outside every radius -> unchanged logits
        grace.adaptor.capture = {}
        far_edited = last_logits(model, tok, far)
        x = grace.adaptor.capture["x"][0]
        grace.adaptor.capture = None
        dist = torch.cdist(x.float(), grace.adaptor.keys)
        assert bool((dist > grace.adaptor.epsilons.unsqueeze(0)).all())
        assert torch.equal(far_edited, far_unedited)

        # checkpoint state -> fresh adaptor on the same base reproduces the edited logits
        state = {k: v.clone() for k, v in grace.state_dict().items()}
        edited = last_logits(model, tok, reqs[0]["prompt"])
        grace.adaptor.remove()
        assert not torch.equal(last_logits(model, tok, reqs[0]["prompt"]), edited)
        model = cls.apply_checkpoint(model, {}, state, {"model": "smollm2-135m", "hparams": grace.hp})
        installed = getattr(dict(model.named_modules())[ARCH.mlp_out.format(grace.hp["layer"])], "_seqedit_grace")
        try:
            assert torch.equal(last_logits(model, tok, reqs[0]["prompt"]), edited)
        finally:
            installed.remove()
    finally:
        grace.adaptor.remove()
        restore(model, before)
