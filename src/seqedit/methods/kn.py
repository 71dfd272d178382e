"""KN: knowledge neurons (Dai et al., ACL 2022), as EasyEdit's ``kn`` applies them to causal LMs.

Following EasyEdit's ``easyeditor/models/kn/kn_main.py`` and ``knowledge_neurons/knowledge_neurons.py``:

1. **Attribution** (integrated gradients). For each prompt (EasyEdit: only the edit prompt) and each token
   ``y_i`` of the *old* answer (``target_true``; EasyEdit's ``ground_truth``), for every candidate layer ``l``:
   take the FFN intermediate activations ``a_l`` at the last position, replace them by ``alpha * a_l`` for
   ``alpha`` in ``linspace(0, 1, steps)`` and sum the gradients of ``P(y_i)`` at the last position::

       score_l = a_l * sum_alpha dP(y_i | a_l <- alpha a_l) / d(alpha a_l) / steps

   averaged over the answer tokens. The site of the "intermediate activations" is ``attribution_site``:
   ``ff_in_output`` = the output of the FFN's first projection (``mlp.gate_proj`` / ``mlp.fc_in`` / ``mlp.c_fc``),
   what EasyEdit patches for Llama/GPT-J/GPT-2; ``mlp_out_input`` = the input of the MLP output projection
   (``arch.mlp_out``, Dai et al.'s FFN neurons). Both index the same ``d_ff`` neurons, the columns of
   ``mlp_out`` (rows when ``arch.transposed``).
2. **Selection**. Per prompt: neurons with ``score > adaptive_threshold * max(score)`` (max over all candidate
   layers). Over prompts: every coarse neuron (``refine: false``, EasyEdit's setting) or those found for more than
   ``p * n_prompts`` prompts (``refine: true``).
3. **Edit** (EasyEdit ``edit_knowledge``). ``o`` = the model's greedy continuation of the prompt (as many tokens as
   the new target has), ``t`` = the new target's tokens; for each selected neuron ``(l, j)``::

       v_lj <- v_lj - s * sum_k E[o_k] + s * sum_k E[t_k],   s = scale_single_token if |t| == 1 else scale_per_token

   where ``v_lj`` is the neuron's value vector (column ``j`` of ``mlp_out(l)``) and ``E`` the input embedding.

Deviations from EasyEdit (all about tokenisation and multi-token answers): answers are tokenised as the other
methods do (``" " + answer``, no BOS; EasyEdit's ``tokenizer.encode(answer)`` puts Llama's BOS first and scores it),
and the i-th answer token is attributed under teacher forcing on ``prompt + y_<i`` (EasyEdit re-tokenises the
prompt plus its greedy completion for Llama and reuses the bare prompt for GPT-J). When ``target_true`` is
missing the new target is attributed instead. Implementation detail with no effect beyond float rounding: the
prompt prefix is run once and its key/value cache reused, so each interpolation row costs one token; rows of all
layers are batched (``rows_per_pass``) instead of EasyEdit's ``batch_size`` rows of one layer.

Sequential KN applies each edit in place on the current model. The selected neurons of every edit are the
method's checkpoint state.
"""
from __future__ import annotations

import torch

from ..kv_cache import cache_kwarg
from ..nethooks import get_module, get_parameter
from .base import EditMethod, register
from .value_opt import target_token_ids

KN_REQUIRED = ("steps", "batch_size", "adaptive_threshold", "p", "refine", "attribution_site",
               "scale_single_token", "scale_per_token")
SITES = ("ff_in_output", "mlp_out_input")
#: the FFN's first projection (its output is EasyEdit's ``input_ff_attr`` site), per architecture family
FF_IN = {"llama": "gate_proj", "gptj": "fc_in", "gpt2": "c_fc"}


@register
class KN(EditMethod):
    name = "kn"
    required = KN_REQUIRED

    def __init__(self, model, tok, arch, hparams, stats, context_templates):
        super().__init__(model, tok, arch, hparams, stats, context_templates)
        n_layers = len(get_module(model, arch.layers))
        cand = self.hp.get("candidate_layers")
        self.layers = list(range(n_layers)) if cand in (None, "all") else sorted({int(l) for l in cand})
        if not self.layers or not all(0 <= l < n_layers for l in self.layers):
            raise ValueError(f"kn: candidate_layers {cand!r} outside 0..{n_layers - 1}")
        if self.hp["attribution_site"] not in SITES:
            raise ValueError(f"kn: attribution_site {self.hp['attribution_site']!r} (one of {', '.join(SITES)})")
        steps, bs = int(self.hp["steps"]), int(self.hp["batch_size"])
        if steps < 1 or bs < 1 or steps % bs:
            raise ValueError(f"kn: steps ({steps}) must be a positive multiple of batch_size ({bs}), as EasyEdit")
        #: per edit, the selected neurons as (layer, neuron index)
        self.edits: list[list[tuple[int, int]]] = []

    # -- what the method edits ---------------------------------------------------------------------------------
    def edited_params(self) -> list[str]:
        return [f"{self.arch.mlp_out.format(l)}.weight" for l in self.layers]

    def needs_stats_layers(self) -> list[int]:
        return []

    # -- state -------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        rows = [[e, l, j] for e, neurons in enumerate(self.edits) for l, j in neurons]
        neurons = torch.tensor(rows, dtype=torch.long) if rows else torch.zeros(0, 3, dtype=torch.long)
        return {"neurons": neurons, "n_edits": torch.tensor([len(self.edits)], dtype=torch.long)}

    def load_state_dict(self, state: dict) -> None:
        if set(state) != {"neurons", "n_edits"}:
            raise ValueError(f"kn: checkpoint state has {sorted(state)}, expected ['n_edits', 'neurons']")
        edits: list[list[tuple[int, int]]] = [[] for _ in range(int(state["n_edits"].reshape(-1)[0]))]
        for e, l, j in state["neurons"].reshape(-1, 3).tolist():
            edits[e].append((l, j))
        self.edits = edits

    # -- attribution -------------------------------------------------------------------------------------------
    def _site(self, layer: int) -> tuple[torch.nn.Module, bool]:
        """``(module, on_output)``: the module whose output (or input) holds the intermediate activations."""
        if self.hp["attribution_site"] == "ff_in_output":
            return get_module(self.model, f"{self.arch.mlp.format(layer)}.{FF_IN[self.arch.name]}"), True
        return get_module(self.model, self.arch.mlp_out.format(layer)), False

    def _hook(self, layer: int, fn):
        """Register ``fn(activation) -> activation or None`` at the layer's site; return the handle."""
        module, on_output = self._site(layer)
        if on_output:
            return module.register_forward_hook(lambda m, args, out: fn(out))

        def pre(m, args):
            new = fn(args[0])
            return None if new is None else (new,) + tuple(args[1:])

        return module.register_forward_pre_hook(pre)

    def _prefix_cache(self, prefix: torch.Tensor):
        """Key/value tensors of ``prefix`` (1, P) per layer, or None for an empty prefix."""
        from transformers import DynamicCache

        if prefix.shape[1] == 0:
            return None
        cache = DynamicCache()
        self.model(input_ids=prefix, use_cache=True, **cache_kwarg(self.model, cache))
        return [(layer.keys, layer.values) for layer in cache.layers]

    def _forward_last(self, last: torch.Tensor, kv, rows: int):
        """Logits at the last token for ``rows`` copies of it after the cached prefix."""
        from transformers import DynamicCache

        ids = last.view(1, 1).expand(rows, 1)
        if kv is None:
            return self.model(input_ids=ids).logits[:, -1]
        cache = DynamicCache(ddp_cache_data=[(k.expand(rows, *k.shape[1:]), v.expand(rows, *v.shape[1:]))
                                             for k, v in kv])
        return self.model(input_ids=ids, use_cache=True, **cache_kwarg(self.model, cache)).logits[:, -1]

    def scores(self, ids: list[int], answer: int) -> torch.Tensor:
        """Integrated-gradient attributions ``(len(self.layers), d_ff)`` of ``P(answer)`` after ``ids``."""
        steps = int(self.hp["steps"])
        ids_t = torch.tensor([ids], device=self.device)
        last = ids_t[0, -1]
        with torch.no_grad():
            kv = self._prefix_cache(ids_t[:, :-1])
            base: dict[int, torch.Tensor] = {}
            handles = [self._hook(l, lambda a, _l=l: base.__setitem__(_l, a[0, -1].detach().clone()))
                       for l in self.layers]
            try:
                self._forward_last(last, kv, 1)
            finally:
                for h in handles:
                    h.remove()
        alphas = torch.linspace(0, 1, steps=steps)  # EasyEdit's scaled_input: 0 and 1 included
        rows_all = [(l, a) for l in self.layers for a in range(steps)]
        per_pass = max(1, int(self.hp.get("rows_per_pass", 64)))
        acc = {l: torch.promote_types(base[l].dtype, torch.float32) for l in self.layers}  # fp16 -> fp32
        grads = {l: torch.zeros_like(base[l], dtype=acc[l]) for l in self.layers}
        for start in range(0, len(rows_all), per_pass):
            chunk = rows_all[start:start + per_pass]
            leaves: dict[int, torch.Tensor] = {}
            rows_of: dict[int, list[int]] = {}
            for r, (l, a) in enumerate(chunk):
                rows_of.setdefault(l, []).append(r)
            for l, rows in rows_of.items():
                scale = alphas[[chunk[r][1] for r in rows]].to(base[l].device, base[l].dtype)
                leaves[l] = (scale[:, None] * base[l][None, :]).requires_grad_(True)

            def patch(act, _l):
                idx = torch.tensor(rows_of[_l], device=act.device)
                act = act.clone()
                act[idx, -1] = leaves[_l].to(act.dtype)
                return act

            handles = [self._hook(l, lambda act, _l=l: patch(act, _l)) for l in rows_of]
            try:
                with torch.enable_grad():
                    logits = self._forward_last(last, kv, len(chunk))
                    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
                    prob = torch.softmax(logits, dim=-1)[:, answer].sum()
                    got = torch.autograd.grad(prob, [leaves[l] for l in rows_of])
            finally:
                for h in handles:
                    h.remove()
            for l, g in zip(rows_of, got):
                grads[l] += g.to(acc[l]).sum(0)
        return torch.stack([grads[l] * base[l].to(acc[l]) / steps for l in self.layers]).float()

    def coarse_neurons(self, prompt_ids: list[int], answer_ids: list[int]) -> tuple[list[tuple[int, int]], float]:
        """Neurons above ``adaptive_threshold * max`` of the scores averaged over the answer's tokens."""
        total = None
        for i, tok_id in enumerate(answer_ids):  # teacher forcing: y_i scored after prompt + y_<i
            s = self.scores(prompt_ids + answer_ids[:i], tok_id)
            total = s if total is None else total + s
        total = total / len(answer_ids)
        top = float(total.max())
        thr = top * float(self.hp["adaptive_threshold"])
        found = torch.nonzero(total > thr).tolist()
        return [(self.layers[r], j) for r, j in found], top

    def select_neurons(self, prompts: list[list[int]], answer_ids: list[int]) -> tuple[list[tuple[int, int]], float]:
        counts: dict[tuple[int, int], int] = {}
        top = float("-inf")
        for ids in prompts:
            found, m = self.coarse_neurons(ids, answer_ids)
            top = max(top, m)
            for n in found:
                counts[n] = counts.get(n, 0) + 1
        if self.hp["refine"]:
            need = len(prompts) * float(self.hp["p"])
            return sorted(n for n, c in counts.items() if c > need), top
        return sorted(counts), top

    # -- editing -----------------------------------------------------------------------------------------------
    def _target_prob(self, prompt_ids: list[int], tgt: list[int]) -> float:
        """``exp(-mean NLL)`` of the target tokens under teacher forcing (as the other methods log)."""
        ids = torch.tensor([prompt_ids + tgt], device=self.device)
        n = len(prompt_ids)
        with torch.no_grad():
            logp = torch.log_softmax(self.model(input_ids=ids).logits[0, n - 1:n - 1 + len(tgt)].float(), -1)
        return float(torch.exp(logp.gather(1, torch.tensor(tgt, device=self.device)[:, None]).mean()))

    def _greedy(self, prompt_ids: list[int], n: int) -> list[int]:
        ids = list(prompt_ids)
        with torch.no_grad():
            for _ in range(n):
                logits = self.model(input_ids=torch.tensor([ids], device=self.device)).logits[0, -1]
                ids.append(int(logits.argmax()))
        return ids[len(prompt_ids):]

    def edit(self, request: dict) -> dict:
        prompt_ids = self.tok(request["prompt"])["input_ids"]
        tgt = target_token_ids(self.tok, request["target_new"])
        true = request.get("target_true")
        answer = target_token_ids(self.tok, true if true else request["target_new"])

        flags = {n: p.requires_grad for n, p in self.model.named_parameters()}
        try:
            for p in self.model.parameters():
                p.requires_grad_(False)
            neurons, top = self.select_neurons([prompt_ids], answer)
        finally:
            for n, p in self.model.named_parameters():
                p.requires_grad_(flags[n])

        p_before = self._target_prob(prompt_ids, tgt)
        orig = self._greedy(prompt_ids, len(tgt))
        emb = get_parameter(self.model, f"{self.arch.embed}.weight").detach()
        scale = float(self.hp["scale_single_token"] if len(tgt) == 1 else self.hp["scale_per_token"])
        delta = scale * (emb[tgt].float().sum(0) - emb[orig].float().sum(0))
        by_layer: dict[int, list[int]] = {}
        for l, j in neurons:
            by_layer.setdefault(l, []).append(j)
        with torch.no_grad():
            for l, cols in by_layer.items():
                w = get_parameter(self.model, f"{self.arch.mlp_out.format(l)}.weight")
                idx = torch.tensor(cols, device=w.device)
                d = delta.to(w.device, w.dtype)
                if self.arch.transposed:  # (d_ff, d_model): neuron j's value vector is row j
                    w[idx, :] += d[None, :]
                else:  # (d_model, d_ff): column j
                    w[:, idx] += d[:, None]
        self.edits.append(list(neurons))
        p_after = self._target_prob(prompt_ids, tgt)
        return {"z_prob_first": p_before, "z_prob_last": p_after, "kn_neurons": len(neurons),
                "kn_layers": sorted(by_layer), "kn_max_score": top,
                "kn_attributed": "target_true" if true else "target_new",
                "kn_replaced": self.tok.decode(orig)}
