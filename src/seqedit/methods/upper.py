"""Run only the decoder blocks above an edited layer.

During the value optimisation only the residual stream at one layer changes; the blocks below it give the same
output at every step. So their output is computed once, and each step runs the remaining blocks alone: the block
list is swapped for a slice of itself and the hidden states go in as ``inputs_embeds``. This works for model
families whose ``inputs_embeds`` enter the first block unchanged (Llama, GPT-J); others (GPT-2 adds position
embeddings) take the generic path: a full forward with the delta added by a hook.

With a ``compute_dtype`` below the weights' (``compute_dtype: bfloat16``, never in a ``reference`` set) the fast
path runs a copy of the upper blocks in that dtype, made once per optimisation: these blocks lie above every edited
layer, so the copy stays equal to them while the optimisation runs (autocast would cast each weight again at every
matrix product, which on a CPU costs what bf16 saves).
"""
from __future__ import annotations

import contextlib
import copy

import torch

from ..kv_cache import cache_kwarg
from ..nethooks import get_module
from . import packed_suffix

FAST_ARCHS = {"llama", "gptj"}


def _block_list(model, arch):
    """``(parent module, attribute name, block list)`` of the model's decoder blocks."""
    parent_name, attr = arch.layers.rsplit(".", 1)
    parent = get_module(model, parent_name)
    return parent, attr, getattr(parent, attr)


@contextlib.contextmanager
def only_blocks(model, arch, start: int, stop: int, replacement: list | None = None):
    """Within the block, the model's block list is ``blocks[start:stop]`` (attention layer indices renumbered), or
    ``replacement`` (copies of those blocks) when given."""
    parent, attr, blocks = _block_list(model, arch)
    sliced = list(replacement) if replacement is not None else list(blocks)[start:stop]
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
    """Final hidden states (after the final norm) of fixed prompts, given the residual stream at ``layer``.

    ``lookup[i]`` is the first position of row ``i`` that the optimised vector can change (the subject's last
    token): in a causal model the positions before it, the *prefix*, are the same at every step. With
    ``prefix_cache`` (fast architectures) the upper blocks run once over the prefixes to fill a key/value cache,
    and each step runs only the suffixes. Rows are right-padded; prefixes are re-packed left-padded. With ``pack``
    the suffixes of rows of unequal length share slots (:mod:`.packed_suffix`) when that saves slots.
    """

    def __init__(self, model, arch, layer: int, loss_layer: int, attention_mask: torch.Tensor,
                 input_ids: torch.Tensor, lookup: list[int] | None = None, prefix_cache: bool = True,
                 compute_dtype: torch.dtype | None = None, pack: bool = True):
        self.model, self.arch, self.layer, self.loss_layer = model, arch, layer, loss_layer
        self.attention_mask = attention_mask
        self.input_ids = input_ids
        self.fast = arch.name in FAST_ARCHS
        self.final_norm = get_module(model, arch.final_norm)
        self.lookup = lookup
        self.use_cache = bool(self.fast and prefix_cache and lookup is not None and max(lookup) > 0)
        self._prefix_kv = None
        self.pack = pack
        self.layout = None  # the slot layout, when packing saves slots (set with the prefix cache)
        weights_dtype = next(model.parameters()).dtype
        # a low-precision copy of the upper blocks (fast path only; the generic path keeps autocast)
        self.compute_dtype = compute_dtype if self.fast and compute_dtype not in (None, weights_dtype) else None
        self.blocks = None
        if self.compute_dtype is not None:
            upper = list(_block_list(model, arch)[2])[layer + 1:loss_layer + 1]
            self.blocks = [copy.deepcopy(block).to(self.compute_dtype).requires_grad_(False) for block in upper]

    def _blocks(self):
        return only_blocks(self.model, self.arch, self.layer + 1, self.loss_layer + 1, self.blocks)

    # -- public --------------------------------------------------------------------------------------------
    def final_at(self, hidden: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """Final hidden states at ``(rows, cols)`` (positions of the full prompts) for ``hidden`` at ``layer``."""
        if self.compute_dtype is not None:
            hidden = hidden.to(self.compute_dtype)
        if self.use_cache:
            if self._prefix_kv is None:
                self._build_prefix(hidden.detach())
            out = self._suffix_forward(hidden)
            lookup = torch.tensor(self.lookup, device=hidden.device)
            if self.layout is not None:
                return out[self.layout.slot_of_row[rows], self.layout.offset_of_row[rows] + cols - lookup[rows]]
            return out[rows, cols - lookup[rows]]
        return self(hidden)[rows, cols]

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.compute_dtype is not None:
            hidden = hidden.to(self.compute_dtype)
        if self.fast:
            with self._blocks() as base:
                out = base(inputs_embeds=hidden, attention_mask=self.attention_mask, use_cache=False)
            return out.last_hidden_state
        return self._generic(hidden)

    # -- prefix cache --------------------------------------------------------------------------------------
    def _build_prefix(self, hidden: torch.Tensor) -> None:
        from transformers import DynamicCache

        b, _, d = hidden.shape
        dev = hidden.device
        lens = self.lookup
        p = max(lens)
        h = hidden.new_zeros(b, p, d)
        mask = torch.zeros(b, p, dtype=self.attention_mask.dtype, device=dev)
        pos = torch.zeros(b, p, dtype=torch.long, device=dev)
        for i, n in enumerate(lens):
            if n:
                h[i, p - n:] = hidden[i, :n]
                mask[i, p - n:] = 1
                pos[i, p - n:] = torch.arange(n, device=dev)
        cache = DynamicCache()
        config = self.model.config
        saved = config._attn_implementation
        config._attn_implementation = "eager"  # fully padded query rows stay finite with additive masks
        try:
            with torch.no_grad(), self._blocks() as base:
                base(inputs_embeds=h, attention_mask=mask, position_ids=pos, use_cache=True, **cache_kwarg(base, cache))
        finally:
            config._attn_implementation = saved
        self._prefix_kv = [(layer.keys, layer.values) for layer in cache.layers]
        self._prefix_mask = mask
        self._p = p
        if self.pack and config._attn_implementation in ("sdpa", "eager"):
            lengths = self.attention_mask.sum(1).tolist()
            layout = packed_suffix.slot_layout(lens, lengths, p, dev)
            if layout.n_slots < b:
                self.layout = layout
                self._prefix_kv = packed_suffix.pack_prefix_cache(self._prefix_kv, layout)
                self._slot_mask = packed_suffix.slot_mask(layout, config._attn_implementation, hidden.dtype)

    def _suffix_forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.layout is not None:  # packed slots
            layout = self.layout
            return self._on_prefix(hidden[layout.tok_row, layout.tok_col], self._slot_mask, layout.tok_col,
                                   layout.pre_row.shape[1])
        b, t, d = hidden.shape
        dev = hidden.device
        lookup = torch.tensor(self.lookup, device=dev)
        lengths = self.attention_mask.sum(1)
        s = int((lengths - lookup).max())
        offs = torch.arange(s, device=dev)
        idx = (lookup[:, None] + offs[None, :]).clamp(max=t - 1)
        suffix = hidden.gather(1, idx[..., None].expand(-1, -1, d))
        suffix_mask = (offs[None, :] < (lengths - lookup)[:, None]).to(self.attention_mask.dtype)
        mask = torch.cat([self._prefix_mask, suffix_mask], dim=1)
        return self._on_prefix(suffix, mask, lookup[:, None] + offs[None, :], self._p)

    def _on_prefix(self, suffix: torch.Tensor, mask: torch.Tensor, position_ids: torch.Tensor,
                   n_prefix: int) -> torch.Tensor:
        """The upper blocks over ``suffix`` (rows or slots), after the cached prefix of ``n_prefix`` positions."""
        from transformers import DynamicCache

        cache = DynamicCache()
        for i, (k, v) in enumerate(self._prefix_kv):
            cache.update(k, v, i)
        cache_position = torch.arange(n_prefix, n_prefix + suffix.shape[1], device=suffix.device)
        with self._blocks() as base:
            out = base(inputs_embeds=suffix, attention_mask=mask, position_ids=position_ids, use_cache=True,
                       cache_position=cache_position, **cache_kwarg(base, cache))
        return out.last_hidden_state

    # -- any architecture ----------------------------------------------------------------------------------
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
