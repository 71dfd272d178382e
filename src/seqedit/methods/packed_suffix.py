"""The suffixes of many rows packed into fewer, full rows ("slots") for the value optimisation's upper blocks.

With the prefix key/value cache (:class:`.upper.UpperForward`) each step runs only the suffixes: the positions from
the subject's last token on. Rows of one request share their suffix length, but the requests of a D4S block do not
(and the KL prompt's is short), so a right-padded batch spends a third of its tokens on padding. Here the rows are
bin-packed (first fit, longest first) into slots as long as the longest suffix; each slot's attention mask lets a
token see its own row's prefix (cached) and its own row's earlier suffix tokens, nothing else. The linear layers
(the bulk of the work) then run on about the real token count; attention stays per slot. Numbers equal the padded
batch to float round-off (tests/test_architectures.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class SlotLayout:
    """Where every row's prefix and suffix go. ``S``: slot length, ``P``: longest packed prefix of a slot."""

    slot_of_row: torch.Tensor  # (rows,)
    offset_of_row: torch.Tensor  # (rows,) first suffix position of the row in its slot
    tok_row: torch.Tensor  # (slots, S) row of every suffix position (pad: 0)
    tok_col: torch.Tensor  # (slots, S) its column in the row's full prompt (pad: 0)
    tok_real: torch.Tensor  # (slots, S) bool
    pre_row: torch.Tensor  # (slots, P) row of every packed prefix position (pad: 0)
    pre_pos: torch.Tensor  # (slots, P) its position in the left-padded prefix cache (pad: 0)
    pre_real: torch.Tensor  # (slots, P) bool

    @property
    def n_slots(self) -> int:
        return int(self.tok_row.shape[0])


def first_fit(lengths: list[int], capacity: int) -> list[list[int]]:
    """Rows (indices into ``lengths``) bin-packed into slots of ``capacity`` positions: longest first, each into
    the first slot where it fits (ties keep row order, so the layout is deterministic)."""
    slots: list[list[int]] = []
    room: list[int] = []
    for row in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        for k, free in enumerate(room):
            if lengths[row] <= free:
                slots[k].append(row)
                room[k] -= lengths[row]
                break
        else:
            slots.append([row])
            room.append(capacity - lengths[row])
    return slots


def slot_layout(lookup: list[int], lengths: list[int], cache_len: int, device) -> SlotLayout:
    """The layout for rows whose prefix is ``lookup[i]`` tokens (left-padded to ``cache_len`` in the cache) and
    whose full prompt is ``lengths[i]`` tokens."""
    suffix = [n - p for n, p in zip(lengths, lookup)]
    capacity = max(suffix)
    slots = first_fit(suffix, capacity)
    longest_prefix = max(sum(lookup[r] for r in rows) for rows in slots)
    n_slots = len(slots)
    zeros = lambda cols: torch.zeros(n_slots, cols, dtype=torch.long)  # noqa: E731
    tok_row, tok_col, pre_row, pre_pos = zeros(capacity), zeros(capacity), zeros(longest_prefix), zeros(longest_prefix)
    tok_real = torch.zeros(n_slots, capacity, dtype=torch.bool)
    pre_real = torch.zeros(n_slots, longest_prefix, dtype=torch.bool)
    slot_of_row = torch.zeros(len(lookup), dtype=torch.long)
    offset_of_row = torch.zeros(len(lookup), dtype=torch.long)
    for k, rows in enumerate(slots):
        at, pre_at = 0, 0
        for row in rows:
            n_suffix, n_prefix = suffix[row], lookup[row]
            slot_of_row[row], offset_of_row[row] = k, at
            tok_row[k, at:at + n_suffix] = row
            tok_col[k, at:at + n_suffix] = torch.arange(n_prefix, n_prefix + n_suffix)
            tok_real[k, at:at + n_suffix] = True
            pre_row[k, pre_at:pre_at + n_prefix] = row
            pre_pos[k, pre_at:pre_at + n_prefix] = torch.arange(cache_len - n_prefix, cache_len)
            pre_real[k, pre_at:pre_at + n_prefix] = True
            at, pre_at = at + n_suffix, pre_at + n_prefix
    to = lambda t: t.to(device)  # noqa: E731
    return SlotLayout(to(slot_of_row), to(offset_of_row), to(tok_row), to(tok_col), to(tok_real), to(pre_row),
                      to(pre_pos), to(pre_real))


def slot_mask(layout: SlotLayout, attn_implementation: str, dtype: torch.dtype) -> torch.Tensor:
    """``(slots, 1, S, P + S)`` mask: a suffix token sees its row's prefix and its row's suffix up to itself. A
    padding position sees only itself (so no query row is empty). Boolean for SDPA, additive for eager."""
    same_pre = layout.tok_row[:, :, None] == layout.pre_row[:, None, :]
    see_pre = same_pre & layout.tok_real[:, :, None] & layout.pre_real[:, None, :]
    same_row = layout.tok_row[:, :, None] == layout.tok_row[:, None, :]
    positions = torch.arange(layout.tok_row.shape[1], device=layout.tok_row.device)
    causal = positions[None, :, None] >= positions[None, None, :]
    both_real = layout.tok_real[:, :, None] & layout.tok_real[:, None, :]
    diagonal = torch.eye(len(positions), dtype=torch.bool, device=positions.device)
    pad_sees_itself = diagonal & ~layout.tok_real[:, :, None]
    see_suffix = (same_row & causal & both_real) | pad_sees_itself
    allowed = torch.cat([see_pre, see_suffix], dim=2)[:, None]
    if attn_implementation == "sdpa":
        return allowed
    if attn_implementation == "eager":
        mask = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
        return mask.masked_fill(~allowed, torch.finfo(dtype).min)
    raise ValueError(f"packed suffixes need sdpa or eager attention, not {attn_implementation!r}")


def pack_prefix_cache(prefix_kv: list[tuple[torch.Tensor, torch.Tensor]], layout: SlotLayout):
    """Each layer's left-padded prefix keys/values ``(rows, heads, cache_len, dim)`` regrouped per slot
    ``(slots, heads, P, dim)``."""
    def pack(t: torch.Tensor) -> torch.Tensor:
        return t[layout.pre_row, :, layout.pre_pos].permute(0, 2, 1, 3).contiguous()

    return [(pack(k), pack(v)) for k, v in prefix_kv]
