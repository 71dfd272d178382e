"""The value optimisation shared by ROME, MEMIT, D4S (and PMET's relatives): ROME's ``compute_v`` /
MEMIT's ``compute_z``.

A vector ``delta`` is added to the residual stream at the subject's last token of ``layer`` and optimised with
Adam so that the model predicts the new target after the edit prompt in every context template:

    loss = NLL(target | prompts) + kl_factor * KL("{subject} is a") + v_weight_decay * |delta| / |init|^2

with ``|delta|`` clamped to ``clamp_norm_factor * |init|`` after each step, early exit at loss < 5e-2, and the
first/last mean target probability recorded (the paper's Fig. 5a). ``init`` is the layer output (MEMIT) or the
MLP output (ROME) at the subject token.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..nethooks import capture, run
from ..tokens import subject_token_index, to_template
from .upper import UpperForward


@dataclass
class ValueResult:
    target: torch.Tensor  # init + delta, (d,)
    init: torch.Tensor  # value at the subject token before the optimisation
    delta: torch.Tensor
    prob_first: float
    prob_last: float
    steps: int


def target_token_ids(tok, target_new: str) -> list[int]:
    """Token ids of ``" " + target`` without special tokens (ROME prepends the space)."""
    text = target_new if target_new.startswith(" ") else " " + target_new
    ids = tok(text, add_special_tokens=False)["input_ids"]
    if not ids:
        raise ValueError(f"target {target_new!r} tokenises to nothing")
    return ids


@dataclass
class ValuePrompts:
    """The batch every value optimisation runs: the edit prompt in each context template, teacher-forced with the
    target's first tokens, plus the KL prompt ``"{subject} is a"`` (last row)."""

    enc: dict  # tokenised batch (right padded)
    lookup: list[int]  # subject token per row
    n_rw: int  # rewriting rows (the KL row follows them)
    n_t: int  # target tokens
    rows: torch.Tensor  # (row, column) of every logit that predicts a target token, and that token
    cols: torch.Tensor
    tgt: torch.Tensor
    look_rows: torch.Tensor  # (row, subject column) of every row
    look_cols: torch.Tensor


def value_prompts(tok, request: dict, context_templates, hp: dict, device) -> ValuePrompts:
    subject = request["subject"]
    template = to_template(request["prompt"], subject)
    target_ids = target_token_ids(tok, request["target_new"])
    n_t = len(target_ids)
    flat = [ctx for group in context_templates for ctx in group]
    target_prefix = tok.decode(target_ids[:-1])
    rewriting = [ctx.replace("{}", template) + target_prefix for ctx in flat]
    all_templates = rewriting + ["{} is a"]
    texts = [t.replace("{}", subject) for t in all_templates]
    enc = tok(texts, return_tensors="pt", padding=True).to(device)
    lookup = [subject_token_index(tok, t, subject, hp.get("fact_token", "subject_last")) for t in all_templates]
    n_rw = len(rewriting)
    # positions whose logits predict the target tokens (teacher forcing on prompt + target[:-1])
    lengths = enc["attention_mask"].sum(1).tolist()
    rows = [i for i in range(n_rw) for _ in range(n_t)]
    cols = [lengths[i] - n_t + j for i in range(n_rw) for j in range(n_t)]
    return ValuePrompts(enc, lookup, n_rw, n_t, torch.tensor(rows, device=device), torch.tensor(cols, device=device),
                        torch.tensor(list(target_ids) * n_rw, device=device),
                        torch.arange(len(texts), device=device), torch.tensor(lookup, device=device))


def compute_value(model, tok, arch, request: dict, layer: int, context_templates, hp: dict,
                  init_site: str = "layer", prefix_cache: bool = True) -> ValueResult:
    device = next(model.parameters()).device
    vp = value_prompts(tok, request, context_templates, hp, device)
    enc, lookup, n_rw, n_t = vp.enc, vp.lookup, vp.n_rw, vp.n_t
    rows_t, cols_t, tgt_t, look_rows, look_cols = vp.rows, vp.cols, vp.tgt, vp.look_rows, vp.look_cols

    layer_name = arch.layer.format(layer)
    init_name = arch.mlp.format(layer) if init_site == "mlp" else layer_name
    with torch.no_grad(), capture(model, outputs=[layer_name, init_name], stop_after=layer_name) as st:
        run(model, input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
    h_layer = st[("out", layer_name)]
    init = st[("out", init_name)][0, lookup[0]].detach().clone()

    loss_layer = max(int(hp["v_loss_layer"]), layer)
    upper = UpperForward(model, arch, layer, loss_layer, enc["attention_mask"], enc["input_ids"], lookup,
                         prefix_cache=prefix_cache)
    lm_head = model.get_output_embeddings()

    delta = torch.zeros(h_layer.shape[-1], device=device, dtype=h_layer.dtype, requires_grad=True)
    opt = torch.optim.Adam([delta], lr=float(hp["v_lr"]))
    kl_init = None
    probs: list[float] = []
    max_norm = float(hp["clamp_norm_factor"]) * init.norm()
    steps = int(hp["v_num_grad_steps"])
    it = 0
    for it in range(steps):
        opt.zero_grad()
        hidden = h_layer.index_put((look_rows, look_cols), delta.unsqueeze(0).expand(len(lookup), -1),
                                   accumulate=True)
        final = upper.final_at(hidden, torch.cat([rows_t, look_rows[n_rw:]]), torch.cat([cols_t, look_cols[n_rw:]]))
        final_rw, final_kl = final[: len(rows_t)], final[len(rows_t):]
        logp = torch.log_softmax(lm_head(final_rw).float(), dim=-1)
        tok_logp = logp.gather(1, tgt_t.unsqueeze(1)).view(n_rw, n_t)
        nll_each = -tok_logp.sum(1) / n_t
        nll = nll_each.mean()
        kl_logp = torch.log_softmax(lm_head(final_kl).float(), dim=-1)
        if kl_init is None:
            kl_init = kl_logp.detach().clone()
        kl = float(hp["kl_factor"]) * torch.nn.functional.kl_div(kl_init, kl_logp, log_target=True,
                                                                 reduction="batchmean")
        wd = float(hp["v_weight_decay"]) * (delta.norm() / init.norm() ** 2)
        loss = nll + kl + wd
        probs.append(torch.exp(-nll_each).mean().item())
        if loss.item() < 5e-2 or it == steps - 1:
            break
        loss.backward()
        opt.step()
        with torch.no_grad():
            if delta.norm() > max_norm:
                delta.mul_(max_norm / delta.norm())
    delta = delta.detach()
    return ValueResult(target=init + delta, init=init, delta=delta, prob_first=probs[0], prob_last=probs[-1],
                       steps=it + 1)
