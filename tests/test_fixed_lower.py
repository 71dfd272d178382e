"""FT, FT-M and GRACE run the blocks below their layer once per edit (``methods/fixed_lower.py``): same edits as
the whole-model forward at every step, on tiny random GPT-J and Llama-2 models."""
from __future__ import annotations

import pytest
import torch

from edit_fixtures import restore, snapshot
from seqedit.methods import get_method
from seqedit.methods.fixed_lower import FixedLower
from seqedit.models.registry import get_model_spec
from test_architectures import REQUESTS, tiny_model
from tiny_tokenizers import byte_level_bpe, llama2_style

HP = {
    "ft": {"layers": [2], "num_steps": 6, "lr": 5e-3, "weight_decay": 0, "norm_constraint": False},
    "ft_m": {"layers": [2], "num_steps": 6, "lr": 5e-3, "weight_decay": 0, "norm_constraint": 1e-3},
    "grace": {"layer": 2, "edit_lr": 1.0, "n_iter": 8, "eps": 1.0, "val_init": "cold",
              "replacement": "replace_last", "eps_expand": "coverage"},
}


@pytest.fixture(scope="module", params=["gpt-j-6b", "llama-2-7b"])
def setup(request, tmp_path_factory):
    spec = get_model_spec(request.param)
    tok = byte_level_bpe() if spec.arch == "gptj" else llama2_style(str(tmp_path_factory.mktemp("sp")))
    tok.padding_side = "right"
    return tiny_model(spec.arch, len(tok)), tok, spec.architecture


def block_calls(model, arch, layer: int) -> tuple[list, object]:
    calls = []
    handle = dict(model.named_modules())[arch.layer.format(layer)].register_forward_hook(
        lambda *args: calls.append(1))
    return calls, handle


def edit_twice(setup, method: str):
    """Edits of REQUESTS with the lower blocks run once (fixed_lower) and with the whole model at every step."""
    model, tok, arch = setup
    names = [n for n, _ in model.named_parameters()]
    base = snapshot(model, names)
    out = {}
    for fixed in (True, False):
        restore(model, base)
        editor = get_method(method)(model, tok, arch, dict(HP[method]), None, [["{}"]])
        editor.fixed_lower = fixed
        calls, handle = block_calls(model, arch, 0)
        try:
            logs = [editor.edit(r) for r in REQUESTS]
        finally:
            handle.remove()
        weights = {n: p.detach().clone() for n, p in model.named_parameters()}
        state = {k: v.clone() for k, v in editor.state_dict().items()}
        changed = sorted(n for n in names if not torch.equal(weights[n], base[n]))
        out[fixed] = (logs, weights, state, len(calls), changed, editor.edited_params())
        if method == "grace":
            editor.adaptor.remove()
    restore(model, base)
    return out


@pytest.mark.parametrize("method", ["ft", "ft_m", "grace"])
def test_fixed_lower_blocks_give_the_same_edits(setup, method):
    out = edit_twice(setup, method)
    (logs_f, w_f, st_f, calls_f, changed, trained), (logs_p, w_p, st_p, calls_p, _, _) = out[True], out[False]
    for name in w_p:  # Adam's normalised step turns round-off in near-zero gradients into ~1e-6 of a 5e-3 step
        assert torch.allclose(w_f[name], w_p[name], rtol=1e-5, atol=1e-5), name
    for key in st_p:
        assert st_f[key].shape == st_p[key].shape
        assert torch.allclose(st_f[key].float(), st_p[key].float(), rtol=1e-5, atol=1e-6), key
    for a, b in zip(logs_f, logs_p):
        assert a["z_steps"] == b["z_steps"]
        assert a["z_prob_last"] == pytest.approx(b["z_prob_last"], rel=1e-5, abs=1e-7)
    if method == "grace":
        assert len(st_f["keys"]) >= 1 and not torch.equal(st_f["values"], torch.zeros_like(st_f["values"]))
        assert changed == []  # GRACE never touches a weight
    else:
        assert changed == sorted(trained) and len(trained) == 1  # the edit moved the trained matrix, only it
    # block 0 ran once or twice per edit on the fixed path, at every step on the whole-model path
    assert calls_f <= 2 * len(REQUESTS) < calls_p


def test_logits_at_equal_the_whole_model(setup):
    model, tok, arch = setup
    ids = tok(REQUESTS[0]["prompt"], return_tensors="pt")["input_ids"]
    pos = torch.arange(ids.shape[1])
    lower = FixedLower(model, arch, 2, ids)
    assert lower.upper is not None
    with torch.no_grad():
        whole = model(input_ids=ids).logits[0]
        fixed = lower.logits_at(pos)
    assert torch.allclose(fixed, whole, rtol=1e-5, atol=1e-5), (fixed - whole).abs().max()
    assert FixedLower(model, arch, 0, ids).upper is None  # nothing below the first block
