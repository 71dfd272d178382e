"""GRACE (Hartvigsen et al., NeurIPS 2023): a discrete key-value codebook adaptor at one layer.

Following EasyEdit's ``easyeditor/models/grace/GRACE.py``: the adaptor wraps the MLP output projection of one
layer (``mlp_out(layer)``, Llama's ``mlp.down_proj``). Its *keys* are that module's inputs at the last prompt token
of edited requests, each with a deferral radius ``epsilon`` (initially ``eps``); its *values* are vectors trained
with ``n_iter`` steps of Adam (lr ``edit_lr``) on the cross-entropy of the new target's tokens (teacher forcing on
``prompt + " " + target`` tokenised as one text, as EasyEdit's ``tokenize``). Codebook rules when a new edit
arrives (EasyEdit): no key within ``eps + epsilon_nearest``
(L2) -> add a key; a key that close with the same target -> grow its radius to the distance (``coverage``) and train
its value; with a different target -> add a key and halve both radii at the distance.

Inference (``replacement: replace_last``): EasyEdit looks up the last token of the input; here every position is
looked up, and a position whose input lies within the radius of its nearest key has the module's output replaced
by that key's value. For a bare prompt the last position is the edited one; under teacher forcing on
``prompt + target`` (how the evaluation scores targets) the prompt's last token is still found. Positions outside
every radius are untouched, so the unedited behaviour is reproduced exactly. The base weights never change;
the codebook is the method's checkpoint state. The blocks below ``layer`` run once per edit, not once per training
step (:mod:`.fixed_lower`; the codebook only acts from ``layer`` up).
"""
from __future__ import annotations

import torch

from ..tokens import prompt_target_ids
from .base import EditMethod, register
from .fixed_lower import FixedLower

GRACE_REQUIRED = ("layer", "edit_lr", "n_iter", "eps", "val_init", "replacement", "eps_expand")


def _module(model, name: str) -> torch.nn.Module:
    return dict(model.named_modules())[name]


class GraceAdaptor:
    """The codebook and the forward hook that applies it to one module."""

    ATTR = "_seqedit_grace"

    def __init__(self, module: torch.nn.Module, d_in: int, d_out: int, device):
        self.module = module
        self.keys = torch.zeros(0, d_in, device=device)
        self.values = torch.zeros(0, d_out, device=device)
        self.epsilons = torch.zeros(0, device=device)
        self.labels: list[list[int]] = []
        self.train_row: tuple[int, torch.Tensor] | None = None  # (key index, trainable value) while editing
        self.capture: dict | None = None
        old = getattr(module, self.ATTR, None)
        if old is not None:
            old.remove()
        self.handle = module.register_forward_hook(self.hook)
        setattr(module, self.ATTR, self)

    def remove(self) -> None:
        self.handle.remove()
        if getattr(self.module, self.ATTR, None) is self:
            delattr(self.module, self.ATTR)

    def nearest(self, x: torch.Tensor):
        """``(distance, index)`` of the nearest key to each row of ``x`` (L2, float32)."""
        d = torch.cdist(x.float(), self.keys)
        return d.min(1)

    def hook(self, module, inputs, output):
        x = inputs[0]
        if self.capture is not None:
            self.capture["x"], self.capture["out"] = x.detach().clone(), output.detach().clone()
        if len(self.keys) == 0:
            return output
        flat = x.reshape(-1, x.shape[-1])
        dist, idx = self.nearest(flat)
        hit = dist <= self.epsilons[idx]
        if not bool(hit.any()):
            return output
        values = self.values
        if self.train_row is not None:
            k, v = self.train_row
            values = values.index_put((torch.tensor([k], device=values.device),), v.unsqueeze(0))
        new = values[idx].to(output.dtype).view(*output.shape[:-1], -1)
        return torch.where(hit.view(*output.shape[:-1], 1), new, output)

    # -- state ---------------------------------------------------------------------------------------------------
    def state(self) -> dict:
        width = max((len(l) for l in self.labels), default=1)
        labels = torch.full((len(self.labels), width), -1, dtype=torch.long)
        for i, l in enumerate(self.labels):
            labels[i, : len(l)] = torch.tensor(l)
        return {"keys": self.keys.cpu().clone(), "values": self.values.cpu().clone(),
                "epsilons": self.epsilons.cpu().clone(), "labels": labels}

    def load(self, state: dict) -> None:
        dev = self.keys.device
        self.keys = state["keys"].to(dev, torch.float32).clone()
        self.values = state["values"].to(dev, torch.float32).clone()
        self.epsilons = state["epsilons"].to(dev, torch.float32).clone()
        self.labels = [[int(t) for t in row if t >= 0] for row in state["labels"].tolist()]


def install(model, arch, layer: int) -> GraceAdaptor:
    module = _module(model, arch.mlp_out.format(layer))
    w = module.weight
    d_out, d_in = (w.shape[1], w.shape[0]) if arch.transposed else (w.shape[0], w.shape[1])
    return GraceAdaptor(module, d_in, d_out, w.device)


@register
class GRACE(EditMethod):
    name = "grace"
    edits_weights = False
    required = GRACE_REQUIRED
    fixed_lower = True  # run the blocks below the adaptor once per edit (False: the whole model each step)

    def __init__(self, model, tok, arch, hparams, stats, context_templates):
        super().__init__(model, tok, arch, hparams, stats, context_templates)
        if self.hp["replacement"] != "replace_last":
            raise NotImplementedError(f"grace: replacement {self.hp['replacement']!r} (only replace_last)")
        self.adaptor = install(model, arch, int(self.hp["layer"]))
        self.n_edits = 0

    def edited_params(self) -> list[str]:
        return []

    def state_dict(self) -> dict:
        return self.adaptor.state()

    def load_state_dict(self, state: dict) -> None:
        self.adaptor.load(state)

    @classmethod
    def apply_checkpoint(cls, model, weights: dict, state: dict, meta: dict):
        from ..models.registry import get_model_spec

        arch = get_model_spec(meta["model"]).architecture
        install(model, arch, int(meta["hparams"]["layer"])).load(state)
        return model

    # -- editing -------------------------------------------------------------------------------------------------
    def _update_codebook(self, query: torch.Tensor, out: torch.Tensor, label: list[int]) -> int:
        """EasyEdit's key rules; return the index of the key whose value is trained."""
        a, eps0 = self.adaptor, float(self.hp["eps"])
        if self.hp["val_init"] == "warm":
            value = out.float()
        elif self.hp["val_init"] == "cold":  # EasyEdit: torch.rand; seeded per edit for reproducibility
            gen = torch.Generator().manual_seed(int(self.hp.get("seed", 0)) + self.n_edits)
            value = torch.rand(out.shape[-1], generator=gen).to(out.device)
        else:
            raise ValueError(f"grace: val_init {self.hp['val_init']!r}")

        def add() -> int:
            a.keys = torch.cat([a.keys, query.float().unsqueeze(0)])
            a.values = torch.cat([a.values, value.unsqueeze(0)])
            a.epsilons = torch.cat([a.epsilons, torch.tensor([eps0], device=a.epsilons.device)])
            a.labels.append(list(label))
            return len(a.keys) - 1

        if len(a.keys) == 0:
            return add()
        dist, idx = a.nearest(query.unsqueeze(0))
        d, k = float(dist[0]), int(idx[0])
        if d > eps0 + float(a.epsilons[k]):
            return add()
        if a.labels[k] != list(label):  # conflict: new key, both radii halved
            new = add()
            a.epsilons[k] = d / 2 - 1e-5
            a.epsilons[new] = d / 2
            return new
        if d > float(a.epsilons[k]):
            if self.hp["eps_expand"] == "coverage":
                a.epsilons[k] = d
            elif self.hp["eps_expand"] == "moving_average":
                a.keys[k] = 0.5 * a.keys[k] + 0.5 * query.float()
                a.epsilons[k] = d
            else:
                raise ValueError(f"grace: eps_expand {self.hp['eps_expand']!r}")
        return k

    def edit(self, request: dict) -> dict:
        a = self.adaptor
        # EasyEdit's grace ``tokenize``: f"{prompt} {target}" as one text, the prompt's own token count masked
        seq, n = prompt_target_ids(self.tok, request["prompt"], request["target_new"])
        tgt = seq[n:]
        ids = torch.tensor([seq], device=self.device)
        pos = torch.arange(n - 1, len(seq) - 1, device=self.device)
        tgt_t = torch.tensor(tgt, device=self.device)

        lower = FixedLower(self.model, self.arch, int(self.hp["layer"]), ids, enabled=self.fixed_lower)
        a.capture = {}
        try:  # the adaptor's input and output at the prompt's last token (one forward from the adaptor's block up)
            with torch.no_grad():
                lower.logits_at(pos[:1])
            query, out = a.capture["x"][0, n - 1], a.capture["out"][0, n - 1]
        finally:
            a.capture = None
        k = self._update_codebook(query, out, tgt)

        def nll():
            logits = lower.logits_at(pos)
            return -torch.log_softmax(logits.float(), -1).gather(1, tgt_t.unsqueeze(1)).mean()

        flags = {nm: p.requires_grad for nm, p in self.model.named_parameters()}
        v = a.values[k].clone().requires_grad_(True)
        probs = []
        try:
            for p in self.model.parameters():
                p.requires_grad_(False)
            a.train_row = (k, v)
            opt = torch.optim.Adam([v], lr=float(self.hp["edit_lr"]))
            for _ in range(int(self.hp["n_iter"])):
                opt.zero_grad()
                loss = nll()
                probs.append(float(torch.exp(-loss.detach())))
                loss.backward()
                opt.step()
        finally:
            a.train_row = None
            for nm, p in self.model.named_parameters():
                p.requires_grad_(flags[nm])
        with torch.no_grad():
            a.values[k] = v.detach()
            final = float(torch.exp(-nll()))
        self.n_edits += 1
        return {"z_prob_first": probs[0] if probs else final, "z_prob_last": final, "z_steps": len(probs),
                "grace_keys": len(a.keys), "grace_key": k}
