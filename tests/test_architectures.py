"""The GPT-J and Llama-2 code paths on randomly initialised tiny models of both architectures (no download):
the value optimisation's fast path, the keys, ROME, D4S and the layer statistics, each against a plain
computation. Layer names come from the model registry (the specs gpt-j-6b and llama-2-7b use)."""
from __future__ import annotations

import pytest
import torch

from edit_fixtures import MemoryStats, restore, snapshot
from seqedit.methods.d4s import D4S
from seqedit.methods.keys import compute_keys, reprs_at_subject
from seqedit.methods.rome import ROME
from seqedit.methods.upper import UpperForward
from seqedit.methods.value_opt import compute_value
from seqedit.models.registry import get_model_spec
from seqedit.nethooks import capture, get_module, run
from seqedit.stats import collect_second_moments
from seqedit.tokens import subject_token_index, to_template
from tiny_tokenizers import SENTENCES, byte_level_bpe, llama2_style

N_LAYERS, EDIT_LAYERS = 4, [1, 2]
TEMPLATES = [["{}"], ["The city council met. {}", "I said that. {}"]]
REQUESTS = [
    {"id": "0", "subject": "Danielle Darrieux", "prompt": "The mother tongue of Danielle Darrieux is",
     "target_new": "English"},
    {"id": "1", "subject": "Toko Yasuda", "prompt": "Toko Yasuda plays the", "target_new": "piano"},
    {"id": "2", "subject": "Autonomous University of Madrid",
     "prompt": "Autonomous University of Madrid is located in", "target_new": "Italy"},
]
HP = {"layers": EDIT_LAYERS, "fact_token": "subject_last", "v_num_grad_steps": 4, "v_lr": 0.5,
      "v_loss_layer": N_LAYERS - 1, "v_weight_decay": 0.5, "clamp_norm_factor": 4.0, "kl_factor": 0.0625,
      "mom2_update_weight": 100.0, "mom2_adjustment": False, "context_template_length_params": [[5, 2]]}


def tiny_model(arch_name: str, vocab_size: int):
    from transformers import GPTJConfig, GPTJForCausalLM, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    if arch_name == "gptj":
        cfg = GPTJConfig(vocab_size=vocab_size, n_positions=128, n_embd=32, n_layer=N_LAYERS, n_head=4,
                         rotary_dim=4, n_inner=64)
        model = GPTJForCausalLM(cfg)
    else:
        cfg = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=N_LAYERS,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
        model = LlamaForCausalLM(cfg)
    model.eval().requires_grad_(False)
    return model


@pytest.fixture(scope="module", params=["gpt-j-6b", "llama-2-7b"])
def setup(request, tmp_path_factory):
    spec = get_model_spec(request.param)
    tok = byte_level_bpe() if spec.arch == "gptj" else llama2_style(str(tmp_path_factory.mktemp("sp")))
    tok.padding_side = "right"  # as models/loading.py sets it
    model = tiny_model(spec.arch, len(tok))
    return model, tok, spec.architecture


def prefix_subject_index(tok, template: str, subject: str) -> int:
    """ROME's ``get_words_idxs_in_templates``: the subject's last token is the last token of the text up to it."""
    return len(tok(template[: template.index("{}")] + subject)["input_ids"]) - 1


# ------------------------------------------------------------------------------------------------ value path
def _plain_final(model, arch, enc, layer, delta, lookup):
    """Final hidden states of a full forward with ``delta`` added at (row, lookup) to ``layer``'s output."""
    def add(mod, args, out):
        h = out[0] if isinstance(out, tuple) else out
        h = h.index_put((torch.arange(len(lookup)), torch.tensor(lookup)), delta, accumulate=True)
        return (h,) + tuple(out[1:]) if isinstance(out, tuple) else h

    store = {}
    hooks = [get_module(model, arch.layer.format(layer)).register_forward_hook(add),
             get_module(model, arch.final_norm).register_forward_hook(lambda m, a, o: store.update(h=o))]
    try:
        model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
    finally:
        for h in hooks:
            h.remove()
    return store["h"]


@pytest.mark.parametrize("mode", ["packed", "packed-eager", "padded", "no-cache"])
def test_upper_forward_equals_the_full_forward(setup, mode):
    model, tok, arch = setup
    prefix_cache = mode != "no-cache"
    layer = EDIT_LAYERS[-1]
    templates = [to_template(r["prompt"], r["subject"]) for r in REQUESTS] + ["{} is a"]
    subjects = [r["subject"] for r in REQUESTS] + ["Toko Yasuda"]
    enc = tok([t.replace("{}", s) for t, s in zip(templates, subjects)], return_tensors="pt", padding=True)
    lookup = [subject_token_index(tok, t, s) for t, s in zip(templates, subjects)]
    with torch.no_grad(), capture(model, outputs=[arch.layer.format(layer)]) as st:
        run(model, input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
    h_layer = st[("out", arch.layer.format(layer))]
    upper = UpperForward(model, arch, layer, N_LAYERS - 1, enc["attention_mask"], enc["input_ids"], lookup,
                         prefix_cache=prefix_cache, pack=mode.startswith("packed"))
    assert upper.use_cache == prefix_cache
    lengths = enc["attention_mask"].sum(1).tolist()
    rows = torch.tensor([i for i, n in enumerate(lengths) for c in range(lookup[i], n)])
    cols = torch.tensor([c for i, n in enumerate(lengths) for c in range(lookup[i], n)])
    torch.manual_seed(1)
    delta = torch.randn(len(lookup), h_layer.shape[-1])
    grads = []
    saved_impl = model.config._attn_implementation
    for fast in (True, False):
        d = delta.clone().requires_grad_(True)
        if fast:
            hidden = h_layer.index_put((torch.arange(len(lookup)), torch.tensor(lookup)), d, accumulate=True)
            model.config._attn_implementation = "eager" if mode == "packed-eager" else saved_impl
            try:
                out = upper.final_at(hidden, rows, cols)
            finally:
                model.config._attn_implementation = saved_impl
            # the four rows' suffixes (3 to 6 tokens) fit in fewer slots than rows
            assert (upper.layout is not None and upper.layout.n_slots < len(lookup)) == mode.startswith("packed")
        else:
            out = _plain_final(model, arch, enc, layer, d, lookup)[rows, cols]
        (out * torch.linspace(-1, 1, out.shape[-1])).sum().backward()
        grads.append((out.detach(), d.grad))
    (fast_out, fast_grad), (plain_out, plain_grad) = grads
    assert torch.allclose(fast_out, plain_out, atol=1e-5), (fast_out - plain_out).abs().max()
    assert torch.allclose(fast_grad, plain_grad, atol=1e-5), (fast_grad - plain_grad).abs().max()


# ------------------------------------------------------------------------------------------------------ keys
def test_keys_equal_a_plain_hooked_forward(setup):
    model, tok, arch = setup
    req, layer = REQUESTS[2], EDIT_LAYERS[0]
    got = compute_keys(model, tok, arch, layer, [req], TEMPLATES, "subject_last")[0]
    template = to_template(req["prompt"], req["subject"])
    means = []
    for group in TEMPLATES:
        rows = []
        for ctx in group:
            text_template = ctx.replace("{}", template)
            idx = prefix_subject_index(tok, text_template, req["subject"])
            assert idx == subject_token_index(tok, text_template, req["subject"])
            store = {}
            h = get_module(model, arch.mlp_out.format(layer)).register_forward_hook(
                lambda m, a, o: store.update(k=a[0]))
            try:
                with torch.no_grad():
                    model(**tok(text_template.replace("{}", req["subject"]), return_tensors="pt"))
            finally:
                h.remove()
            rows.append(store["k"][0, idx])
        means.append(torch.stack(rows).mean(0))
    assert torch.allclose(got, torch.stack(means).mean(0), atol=1e-5)


# ---------------------------------------------------------------------------------------------- ROME and D4S
def _mlp_out_weights(model, arch):
    return [f"{arch.mlp_out.format(i)}.weight" for i in range(N_LAYERS)]


def test_rome_makes_a_rank_one_update_of_one_layer(setup):
    model, tok, arch = setup
    saved = snapshot(model, _mlp_out_weights(model, arch))
    try:
        req, layer = REQUESTS[0], EDIT_LAYERS[0]
        hp = {**HP, "layers": [layer]}
        v_star = compute_value(model, tok, arch, req, layer, TEMPLATES, hp, init_site="mlp").target
        rome = ROME(model, tok, arch, hp, None, TEMPLATES)
        rome.edit(req)
        params = dict(model.named_parameters())
        for name, before in saved.items():
            diff = (params[name] - before).double()
            if name == rome.edited_params()[0]:
                s = torch.linalg.svdvals(diff)
                assert s[0] > 1e-4 and s[1] / s[0] < 1e-5
            else:
                assert torch.equal(params[name], before)
        # ROME's defining property: the edited MLP now outputs v* at the subject's last token of the prompt
        pair = [(to_template(req["prompt"], req["subject"]), req["subject"])]
        out = reprs_at_subject(model, tok, arch, [layer], pair, "subject_last", "out")[layer][0]
        assert torch.allclose(out, v_star, atol=1e-4), (out - v_star).abs().max()
    finally:
        restore(model, saved)


def test_d4s_equals_the_batch_closed_form(setup):
    model, tok, arch = setup
    moments, _, _ = collect_second_moments(model, tok, arch, EDIT_LAYERS, iter(SENTENCES), 2000, 64, progress=False)
    stats = MemoryStats({l: m.float() + 0.01 * torch.eye(m.shape[0]) for l, m in moments.items()})
    saved = snapshot(model, _mlp_out_weights(model, arch))
    try:
        d4s = D4S(model, tok, arch, HP, stats, TEMPLATES)
        d4s.history_probe = []
        for r in REQUESTS:
            d4s.edit(r)
        lam = float(HP["mom2_update_weight"])
        for i, layer in enumerate(EDIT_LAYERS):
            ks = torch.stack([k for (l, k, _) in d4s.history_probe if l == layer], dim=1)
            rs = torch.stack([r for (l, _, r) in d4s.history_probe if l == layer], dim=1)
            assert ks.shape[1] == len(REQUESTS)
            c = stats.mom2(layer).double()
            batch = (rs / (len(EDIT_LAYERS) - i)) @ ks.T @ torch.linalg.inv(ks @ ks.T + lam * c)
            delta = d4s.get_weight(layer).double() - d4s.w0[layer].double()
            assert batch.norm() > 0
            assert (delta - batch).norm() / batch.norm() < 1e-4
    finally:
        restore(model, saved)


# ---------------------------------------------------------------------------------------------- statistics
def test_statistics_stop_after_the_last_edited_layer(setup):
    model, tok, arch = setup
    ran = []  # blocks that started
    hooks = [get_module(model, arch.layer.format(i)).register_forward_pre_hook(lambda m, a, i=i: ran.append(i))
             for i in range(N_LAYERS)]
    hooks.append(get_module(model, arch.final_norm).register_forward_pre_hook(lambda m, a: ran.append("norm")))
    try:
        moments, count, _ = collect_second_moments(model, tok, arch, EDIT_LAYERS, iter(SENTENCES[:12]), 10_000, 16,
                                                   batch_tokens=64, progress=False)
    finally:
        for h in hooks:
            h.remove()
    assert ran and set(ran) == set(range(max(EDIT_LAYERS) + 1))  # no block above the last edited layer ran
    # the same moments from full forwards, one chunk at a time (no padding)
    sums = {l: 0 for l in EDIT_LAYERS}
    n = 0
    for text in SENTENCES[:12]:
        ids = tok(text)["input_ids"]
        for start in range(0, len(ids), 16):
            chunk = torch.tensor([ids[start:start + 16]])
            with torch.no_grad(), capture(model, inputs=[arch.mlp_out.format(l) for l in EDIT_LAYERS]) as st:
                model(input_ids=chunk)
            for l in EDIT_LAYERS:
                k = st[("in", arch.mlp_out.format(l))][0].double()
                sums[l] = sums[l] + k.T @ k
            n += chunk.shape[1]
    assert count == n
    for l in EDIT_LAYERS:
        assert torch.allclose(moments[l], sums[l] / n, atol=1e-6)
