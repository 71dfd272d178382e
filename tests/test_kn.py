"""KN (knowledge neurons) on the real SmolLM2-135M: attribution, the neuron-local edit and its checkpoint state."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from edit_fixtures import REQUESTS, make_method, next_token_prob, snapshot
from seqedit.checkpoints import load_checkpoint, save_checkpoint
from seqedit.methods import get_method
from seqedit.methods.hparams import load_hparams
from seqedit.methods.value_opt import target_token_ids
from seqedit.models.registry import get_model_spec

pytestmark = pytest.mark.slow
ARCH = get_model_spec("smollm2-135m").architecture
N_LAYERS = 30
HP_FILE = Path(__file__).resolve().parents[1] / "config" / "hparams" / "kn.yaml"


def test_every_model_has_a_complete_reference_block():
    cls = get_method("kn")
    for model in ("smollm2-135m", "gpt-j-6b", "llama-2-7b"):
        hp = load_hparams(HP_FILE, model, "reference")
        assert not [k for k in cls.required if k not in hp], model
        assert hp["steps"] % hp["batch_size"] == 0
    assert load_hparams(HP_FILE, "gpt-j-6b", "reference")["steps"] == 20  # EasyEdit hparams/KN/gpt-j-6B.yaml
    assert load_hparams(HP_FILE, "llama-2-7b", "reference")["adaptive_threshold"] == 0.2


def naive_scores(kn, ids, answer, layers, steps):
    """EasyEdit's get_scores_for_layer: the whole prompt, ``steps`` rows per layer, no cache."""
    x = torch.tensor([ids])
    out = []
    for layer in layers:
        got = {}
        h = kn._hook(layer, lambda a: got.__setitem__("a", a[0, -1].clone()))
        with torch.no_grad():
            kn.model(input_ids=x)
        h.remove()
        base = got["a"]
        rows = (torch.linspace(0, 1, steps)[:, None] * base[None]).requires_grad_(True)

        def patch(act):
            act = act.clone()
            act[:, -1] = rows
            return act

        h = kn._hook(layer, patch)
        try:
            logits = kn.model(input_ids=x.expand(steps, -1)).logits[:, -1]
            grad = torch.autograd.grad(torch.softmax(logits, -1)[:, answer].sum(), rows)[0]
        finally:
            h.remove()
        out.append(grad.sum(0) * base / steps)
    return torch.stack(out)


@pytest.mark.parametrize("site", ["ff_in_output", "mlp_out_input"])
def test_cached_attribution_equals_full_sequence_integrated_gradients(smollm2, site):
    model, tok = smollm2
    kn = make_method("kn", model, tok, attribution_site=site, steps=3, batch_size=3, candidate_layers=[3, 17],
                     rows_per_pass=4)  # 6 rows in two passes: chunks split across layers
    ids = tok(REQUESTS[0]["prompt"])["input_ids"]
    answer = target_token_ids(tok, REQUESTS[0]["target_true"])[0]
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    try:
        for p in model.parameters():
            p.requires_grad_(False)
        fast = kn.scores(ids, answer)
        ref = naive_scores(kn, ids, answer, [3, 17], 3)
    finally:
        for n, p in model.named_parameters():
            p.requires_grad_(flags[n])
    assert fast.shape == (2, 1536)
    scale = ref.abs().max().item()
    assert scale > 0
    assert torch.allclose(fast, ref, rtol=1e-3, atol=1e-3 * scale)
    assert set(torch.topk(fast.flatten(), 5).indices.tolist()) == set(torch.topk(ref.flatten(), 5).indices.tolist())


def test_edit_moves_only_the_selected_value_vectors_and_raises_the_target(clean_model):
    model, tok = clean_model
    kn = make_method("kn", model, tok)
    assert kn.edited_params() == [f"{ARCH.mlp_out.format(i)}.weight" for i in range(N_LAYERS)]
    assert kn.needs_stats_layers() == []
    req = REQUESTS[0]
    before = snapshot(model, [n for n, _ in model.named_parameters()])
    new_id = target_token_ids(tok, req["target_new"])[0]
    p0 = next_token_prob(model, tok, req["prompt"], new_id)
    with torch.no_grad():
        orig_id = int(model(input_ids=tok(req["prompt"], return_tensors="pt")["input_ids"]).logits[0, -1].argmax())

    log = kn.edit(req)

    (neurons,) = kn.edits
    assert log["kn_neurons"] == len(neurons) > 0
    assert log["kn_layers"] == sorted({l for l, _ in neurons})
    emb = before[f"{ARCH.embed}.weight"]
    delta = 2.0 * (emb[new_id] - emb[orig_id])  # one-token target: +2 E[new] - 2 E[greedy prediction]
    params = dict(model.named_parameters())
    selected = {}
    for l, j in neurons:
        selected.setdefault(f"{ARCH.mlp_out.format(l)}.weight", []).append(j)
    for name, p in params.items():
        w, w0 = p.detach(), before[name]
        if name not in selected:
            assert torch.equal(w, w0), name  # nothing else in the model changes
            continue
        cols = torch.tensor(selected[name])
        keep = torch.ones(w.shape[1], dtype=torch.bool)
        keep[cols] = False
        assert torch.equal(w[:, keep], w0[:, keep]), name  # every other column bit-identical
        assert torch.allclose(w[:, cols] - w0[:, cols], delta[:, None].expand(-1, len(cols)), atol=1e-5), name
    p1 = next_token_prob(model, tok, req["prompt"], new_id)
    assert p1 > 2 * p0
    assert log["z_prob_last"] > log["z_prob_first"]


def test_neuron_lists_survive_a_checkpoint(clean_model, tmp_path):
    model, tok = clean_model
    kn = make_method("kn", model, tok)
    kn.edit(REQUESTS[3])
    kn.edits.append([])  # an edit that found no neuron still counts
    kn.edits.append([(0, 7), (29, 1535)])
    path = tmp_path / "step_3.safetensors"
    save_checkpoint(path, {}, kn.state_dict(), {"n_edits": 3})
    _, state, _ = load_checkpoint(path)
    fresh = make_method("kn", model, tok)
    assert fresh.edits == []
    fresh.load_state_dict(state)
    assert len(fresh.edits) == 3
    assert fresh.edits == kn.edits
    assert len(fresh.edits[0]) > 0
    with pytest.raises(ValueError):
        fresh.load_state_dict({"neurons": state["neurons"]})
