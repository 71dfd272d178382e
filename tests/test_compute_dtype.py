"""`compute_dtype: bfloat16` (never in a `reference` set): the value optimisation runs bf16 copies of the blocks
above the layer and of the head, made once per optimisation (before: autocast, which casts every fp32 weight again
at each matrix product). On tiny random GPT-J and Llama models and on SmolLM2: the original blocks are not run, the
weights are untouched, and the result stays close to the fp32 one."""
from __future__ import annotations

import pytest
import torch

from edit_fixtures import REQUESTS as SMOL_REQUESTS, make_method, snapshot
from seqedit.methods.upper import UpperForward
from seqedit.methods.value_opt import compute_values
from seqedit.nethooks import get_module
from test_architectures import HP, REQUESTS, TEMPLATES, setup  # noqa: F401  (fixture)

BF16 = {"compute_dtype": "bfloat16"}


def _block_calls(model, arch):
    """Forward calls per original decoder block in fp32 (a hook on each; a bf16 copy of a block carries the hook
    too, and is not counted)."""
    parent_name, attr = arch.layers.rsplit(".", 1)
    blocks = list(getattr(get_module(model, parent_name), attr))
    calls = [0] * len(blocks)
    handles = []
    for i, block in enumerate(blocks):
        def count(mod, args, out, i=i):
            calls[i] += next(mod.parameters()).dtype == torch.float32
        handles.append(block.register_forward_hook(count))
    return calls, handles


def test_the_bf16_path_runs_copies_and_leaves_the_model_alone(setup):  # noqa: F811
    model, tok, arch = setup
    names = [n for n, _ in model.named_parameters()]
    before = snapshot(model, names)
    layer = HP["layers"][-1]
    calls, handles = _block_calls(model, arch)
    try:
        fp32 = compute_values(model, tok, arch, REQUESTS, layer, TEMPLATES, HP)
        fp32_calls = list(calls)
        calls[:] = [0] * len(calls)
        bf16 = compute_values(model, tok, arch, REQUESTS, layer, TEMPLATES, {**HP, **BF16})
    finally:
        for h in handles:
            h.remove()
    upper = range(layer + 1, HP["v_loss_layer"] + 1)
    assert all(fp32_calls[i] > 1 for i in upper)  # fp32: the model's own upper blocks, at every step
    assert all(calls[i] == 0 for i in upper), calls  # bf16: never (the copies run); the lower ones once, as fp32
    assert calls[:layer + 1] == fp32_calls[:layer + 1]
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())
    assert all(p.dtype == torch.float32 for p in model.parameters())
    for a, b in zip(fp32, bf16):
        assert b.target.dtype == torch.float32 and torch.isfinite(b.target).all()
        assert torch.equal(a.init, b.init)  # read below the layer, in fp32
        cos = torch.nn.functional.cosine_similarity(a.delta, b.delta, dim=0).item()
        assert cos > 0.95, cos
        assert abs(a.prob_last - b.prob_last) < 0.05


def test_the_copies_are_made_only_where_they_differ(setup):  # noqa: F811
    model, tok, arch = setup
    enc = tok(["Toko Yasuda plays the"], return_tensors="pt", padding=True)
    kw = dict(attention_mask=enc["attention_mask"], input_ids=enc["input_ids"], lookup=[1])
    assert UpperForward(model, arch, 1, 3, **kw).blocks is None
    assert UpperForward(model, arch, 1, 3, **kw, compute_dtype=torch.float32).blocks is None
    copies = UpperForward(model, arch, 1, 3, **kw, compute_dtype=torch.bfloat16).blocks
    assert len(copies) == 2 and all(p.dtype == torch.bfloat16 and not p.requires_grad
                                    for block in copies for p in block.parameters())


def test_a_bad_compute_dtype_names_the_hyperparameter(setup):  # noqa: F811
    model, tok, arch = setup
    with pytest.raises(ValueError, match="hyperparameter compute_dtype must be float32, bfloat16 or float16"):
        compute_values(model, tok, arch, REQUESTS[:1], 1, TEMPLATES, {**HP, "compute_dtype": "int8"})


@pytest.mark.slow
def test_bf16_values_stay_close_to_fp32_on_smollm2(clean_model):
    model, tok = clean_model
    memit = make_method("memit", model, tok, v_num_grad_steps=8)
    args = (model, tok, memit.arch, SMOL_REQUESTS[:2], 8, memit.context_templates)
    fp32 = compute_values(*args, memit.hp)
    bf16 = compute_values(*args, {**memit.hp, **BF16})
    for a, b in zip(fp32, bf16):
        rel = ((a.target - b.target).norm() / a.target.norm()).item()
        assert rel < 0.05, rel
        assert abs(a.prob_last - b.prob_last) < 0.05, (a.prob_last, b.prob_last)
