"""Run only the decoder blocks above an edited layer.

During the value optimisation only the residual stream at one layer changes; the blocks below it give the same
output at every step. So their output is computed once, and each step runs the remaining blocks alone: the block
list is swapped for a slice of itself and the hidden states go in as ``inputs_embeds``. This works for model
families whose ``inputs_embeds`` enter the first block unchanged (Llama, GPT-J); others (GPT-2 adds position
embeddings) take the generic path: a full forward with the delta added by a hook.
"""
from __future__ import annotations

import contextlib

import torch

from ..nethooks import get_module

FAST_ARCHS = {"llama", "gptj"}


@contextlib.contextmanager
def only_blocks(model, arch, start: int, stop: int):
    """Within the block, the model's block list is ``blocks[start:stop]`` (attention layer indices renumbered)."""
    parent_name, attr = arch.layers.rsplit(".", 1)
    parent = get_module(model, parent_name)
    blocks = getattr(parent, attr)
    sliced = list(blocks)[start:stop]
    saved_idx = []
    for new_idx, block in enumerate(sliced):
        attn = _attention(block)
        saved_idx.append(getattr(attn, "layer_idx", None))
        if attn is not None and hasattr(attn, "layer_idx"):
            attn.layer_idx = new_idx
    setattr(parent, attr, torch.nn.ModuleList(sliced))
    try:
        yield parent
    finally:
        setattr(parent, attr, blocks)
        for block, idx in zip(sliced, saved_idx):
            attn = _attention(block)
            if attn is not None and idx is not None:
                attn.layer_idx = idx


def _attention(block):
    for name in ("self_attn", "attn"):
        if hasattr(block, name):
            return getattr(block, name)
    return None


class UpperForward:
    """Callable ``hidden_at_layer -> final hidden states (after the final norm)`` for fixed prompts."""

    def __init__(self, model, arch, layer: int, loss_layer: int, attention_mask: torch.Tensor,
                 input_ids: torch.Tensor):
        self.model, self.arch, self.layer, self.loss_layer = model, arch, layer, loss_layer
        self.attention_mask = attention_mask
        self.input_ids = input_ids
        self.fast = arch.name in FAST_ARCHS
        self.final_norm = get_module(model, arch.final_norm)

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.fast:
            with only_blocks(self.model, self.arch, self.layer + 1, self.loss_layer + 1) as base:
                out = base(inputs_embeds=hidden, attention_mask=self.attention_mask, use_cache=False)
            return out.last_hidden_state
        return self._generic(hidden)

    def _generic(self, hidden: torch.Tensor) -> torch.Tensor:
        from ..nethooks import capture, run

        layer_name = self.arch.layer.format(self.layer)
        module = get_module(self.model, layer_name)

        def replace(mod, args, out):
            return (hidden,) + tuple(out[1:]) if isinstance(out, tuple) else hidden

        handle = module.register_forward_hook(replace)
        try:
            loss_name = self.arch.layer.format(self.loss_layer)
            store = {}

            def keep(mod, args, out):
                store["h"] = out[0] if isinstance(out, tuple) else out

            h2 = get_module(self.model, loss_name).register_forward_hook(keep)
            try:
                with capture(self.model, stop_after=loss_name):
                    run(self.model, input_ids=self.input_ids, attention_mask=self.attention_mask)
            finally:
                h2.remove()
        finally:
            handle.remove()
        return self.final_norm(store["h"])
