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

import contextlib
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
    return compute_values(model, tok, arch, [request], layer, context_templates, hp, init_site, prefix_cache)[0]


@dataclass
class _Block:
    """The value prompts of several requests in one right-padded batch (rows of request r: ``rw[r]`` then KL)."""

    enc: dict
    lookup: list[int]  # subject token of every row
    rw_owner: torch.Tensor  # request of every rewriting row
    n_rw: torch.Tensor  # rewriting rows per request
    kl_rows: torch.Tensor  # the KL row of every request
    pos_rows: torch.Tensor  # (row, column, token) of every logit that predicts a target token
    pos_cols: torch.Tensor
    pos_tgt: torch.Tensor
    pos_scale: torch.Tensor  # 1 / n_t of its request
    first_rows: list[int]  # first rewriting row of every request (the bare prompt: where init is read)


def _block_prompts(tok, requests: list[dict], context_templates, hp: dict, device) -> _Block:
    texts, lookup, rw_owner, n_rw, kl_rows, first_rows, targets = [], [], [], [], [], [], []
    for r, request in enumerate(requests):
        subject = request["subject"]
        template = to_template(request["prompt"], subject)
        target_ids = target_token_ids(tok, request["target_new"])
        target_prefix = tok.decode(target_ids[:-1])
        rewriting = [ctx.replace("{}", template) + target_prefix for group in context_templates for ctx in group]
        first_rows.append(len(texts))
        for t in rewriting + ["{} is a"]:
            texts.append(t.replace("{}", subject))
            lookup.append(subject_token_index(tok, t, subject, hp.get("fact_token", "subject_last")))
        rw_owner += [r] * len(rewriting)
        n_rw.append(len(rewriting))
        kl_rows.append(len(texts) - 1)
        targets.append(target_ids)
    enc = tok(texts, return_tensors="pt", padding=True).to(device)
    lengths = enc["attention_mask"].sum(1).tolist()
    rows, cols, tgt, scale = [], [], [], []
    for r, target_ids in enumerate(targets):
        n_t = len(target_ids)
        for i in range(first_rows[r], first_rows[r] + n_rw[r]):
            rows += [i] * n_t
            cols += [lengths[i] - n_t + j for j in range(n_t)]
            tgt += list(target_ids)
            scale += [1.0 / n_t] * n_t
    as_long = lambda xs: torch.tensor(xs, device=device, dtype=torch.long)  # noqa: E731
    return _Block(enc, lookup, as_long(rw_owner), as_long(n_rw), as_long(kl_rows), as_long(rows), as_long(cols),
                  as_long(tgt), torch.tensor(scale, device=device), first_rows)


def compute_values(model, tok, arch, requests: list[dict], layer: int, context_templates, hp: dict,
                   init_site: str = "layer", prefix_cache: bool = True) -> list[ValueResult]:
    """The value optimisation of each request, all in one batch.

    The requests' rows never interact (attention stays within a row, norms are per token), the loss is the sum of
    the per-request losses, and Adam is element-wise: so each request's ``delta`` follows the same trajectory as
    in a run of its own (to float round-off of the batched matrix products), with its own clamp and its own early
    stop (a request that stopped keeps the ``delta`` of the step where it stopped). One request = ROME's
    ``compute_v`` / MEMIT's ``compute_z`` exactly."""
    device = next(model.parameters()).device
    blk = _block_prompts(tok, requests, context_templates, hp, device)
    n_req, n_rows = len(requests), len(blk.lookup)
    layer_name = arch.layer.format(layer)
    init_name = arch.mlp.format(layer) if init_site == "mlp" else layer_name
    with torch.no_grad(), capture(model, outputs=[layer_name, init_name], stop_after=layer_name) as st:
        run(model, input_ids=blk.enc["input_ids"], attention_mask=blk.enc["attention_mask"])
    h_layer = st[("out", layer_name)]
    first = torch.tensor(blk.first_rows, device=device)
    init = st[("out", init_name)][first, torch.tensor(blk.lookup, device=device)[first]].detach().clone()
    init_norm = init.norm(dim=1)

    loss_layer = max(int(hp["v_loss_layer"]), layer)
    compute_dtype = _compute_dtype(hp.get("compute_dtype"))
    upper = UpperForward(model, arch, layer, loss_layer, blk.enc["attention_mask"], blk.enc["input_ids"],
                         blk.lookup, prefix_cache=prefix_cache, compute_dtype=compute_dtype)
    lm_head = model.get_output_embeddings()
    if upper.compute_dtype is not None:  # the head in the same dtype as the copied blocks (a copy, made once)
        lm_head = _head_copy(lm_head, upper.compute_dtype)
    row_owner = torch.cat([blk.rw_owner, torch.arange(n_req, device=device)])  # request of rw rows, then KL rows
    look_rows = torch.cat([torch.arange(n_rows, device=device)[~_is_kl(n_rows, blk.kl_rows)], blk.kl_rows])
    look_cols = torch.tensor(blk.lookup, device=device)[look_rows]
    out_rows = torch.cat([blk.pos_rows, blk.kl_rows])
    out_cols = torch.cat([blk.pos_cols, look_cols[-n_req:]])
    n_pos = len(blk.pos_rows)

    delta = torch.zeros(n_req, h_layer.shape[-1], device=device, dtype=h_layer.dtype, requires_grad=True)
    opt = torch.optim.Adam([delta], lr=float(hp["v_lr"]))
    max_norm = float(hp["clamp_norm_factor"]) * init_norm
    kl_factor, wd_factor = float(hp["kl_factor"]), float(hp["v_weight_decay"])
    steps = int(hp["v_num_grad_steps"])
    autocast = _autocast(None if upper.compute_dtype is not None else compute_dtype, device)
    kl_init = None
    active = torch.ones(n_req, dtype=torch.bool, device=device)
    prob_first: list[float] = [0.0] * n_req
    prob_last: list[float] = [0.0] * n_req
    n_steps = [steps] * n_req
    final_delta = torch.zeros_like(delta, requires_grad=False)
    for it in range(steps):
        opt.zero_grad()
        hidden = h_layer.index_put((look_rows, look_cols), delta[row_owner], accumulate=True)
        with autocast:
            final = upper.final_at(hidden, out_rows, out_cols)
            logits = lm_head(final.to(lm_head.weight.dtype))  # the bf16 path: a bf16 copy of the head
        logp = torch.log_softmax(logits[:n_pos].float(), dim=-1)
        tok_logp = logp.gather(1, blk.pos_tgt.unsqueeze(1)).squeeze(1)
        nll_row = torch.zeros(n_rows, device=device).index_add(0, blk.pos_rows, -tok_logp * blk.pos_scale)
        nll_rw = nll_row[look_rows[: len(blk.rw_owner)]]  # per rewriting row, in request order
        nll = torch.zeros(n_req, device=device).index_add(0, blk.rw_owner, nll_rw) / blk.n_rw
        prob = torch.zeros(n_req, device=device).index_add(0, blk.rw_owner, torch.exp(-nll_rw)) / blk.n_rw
        kl_logp = torch.log_softmax(logits[n_pos:].float(), dim=-1)
        if kl_init is None:
            kl_init = kl_logp.detach().clone()
        kl = kl_factor * (kl_logp.exp() * (kl_logp - kl_init)).sum(-1)
        wd = wd_factor * (delta.norm(dim=1) / init_norm ** 2)
        loss = nll + kl + wd
        loss_now, prob_now = loss.tolist(), prob.tolist()
        for r in range(n_req):
            if not active[r]:
                continue
            if it == 0:
                prob_first[r] = prob_now[r]
            prob_last[r] = prob_now[r]
            if loss_now[r] < 5e-2 or it == steps - 1:
                active[r] = False
                n_steps[r] = it + 1
                final_delta[r] = delta[r].detach()
        if not bool(active.any()):
            break
        (loss * active).sum().backward()
        opt.step()
        with torch.no_grad():
            norms = delta.norm(dim=1)
            if not bool(torch.isfinite(norms[active]).all()):
                bad = [requests[r]["id"] for r in range(n_req) if active[r] and not torch.isfinite(norms[r])]
                raise FloatingPointError(
                    f"value optimisation diverged at step {it + 1}: |delta| is not finite for request(s) {bad} "
                    f"(hyperparameters v_lr={hp['v_lr']}, v_weight_decay={hp['v_weight_decay']}); the clamp "
                    "would turn it into a silent no-op")
            delta.mul_(torch.where(norms > max_norm, max_norm / norms, torch.ones_like(norms)).unsqueeze(1))
    return [ValueResult(target=init[r] + final_delta[r], init=init[r], delta=final_delta[r].clone(),
                        prob_first=prob_first[r], prob_last=prob_last[r], steps=n_steps[r]) for r in range(n_req)]


def _is_kl(n_rows: int, kl_rows: torch.Tensor) -> torch.Tensor:
    mask = torch.zeros(n_rows, dtype=torch.bool, device=kl_rows.device)
    mask[kl_rows] = True
    return mask


def _compute_dtype(name: str | None) -> torch.dtype | None:
    """``compute_dtype`` of the hyperparameters as a torch dtype (None: the weights' own)."""
    if name in (None, "float32"):
        return None
    if name not in ("bfloat16", "float16"):
        raise ValueError(f"hyperparameter compute_dtype must be float32, bfloat16 or float16, got {name!r}")
    return getattr(torch, name)


def _head_copy(lm_head, dtype: torch.dtype):
    head = torch.nn.Linear(lm_head.in_features, lm_head.out_features, bias=lm_head.bias is not None,
                           device=lm_head.weight.device, dtype=dtype)
    with torch.no_grad():
        head.weight.copy_(lm_head.weight)
        if lm_head.bias is not None:
            head.bias.copy_(lm_head.bias)
    return head.requires_grad_(False)


def _autocast(compute_dtype: torch.dtype | None, device):
    """``compute_dtype: bfloat16`` runs the optimisation's forward and backward in that dtype (the loss, the
    optimised vector and Adam stay float32). Not the references' setting: off in every ``reference`` set. The fast
    path (Llama, GPT-J) runs low-precision copies of the upper blocks and the head (:class:`UpperForward`); other
    architectures run under autocast."""
    if compute_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=compute_dtype)
