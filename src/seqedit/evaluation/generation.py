"""Batched, deterministic text generation for the edit metrics (fluency, MQuAKE answers).

One loop for greedy decoding and for top-k sampling (ROME's ``generate_fast`` samples from the top 5 tokens). The
prompts are left-padded, position ids follow the attention mask, and the key/value cache is reused when the model
returns one (a model that returns none is simply run on the whole sequence again). Sampling draws from a
``torch.Generator`` seeded per batch, so the same prompts, seed and model give the same texts, and the unedited and
the edited model are sampled with the same random stream.
"""
from __future__ import annotations

import torch

from ..kv_cache import cache_keyword, returned_cache


@torch.no_grad()
def generate(model, tok, prompts: list[str], max_new_tokens: int, *, top_k: int | None = None, seed: int = 0,
             stop_at_newline: bool = False, batch_size: int = 16) -> list[str]:
    """The continuation of each prompt (decoded, prompt excluded).

    ``top_k=None`` is greedy decoding; otherwise sampling from the ``top_k`` most likely tokens (renormalised).
    With ``stop_at_newline`` a row stops after its first generated newline (the text keeps it; callers cut there).
    """
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    device = next(model.parameters()).device
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    eos = tok.eos_token_id
    has_newline: dict[int, bool] = {}
    cache_kw = cache_keyword(model)

    def ends_line(t: int) -> bool:
        if t not in has_newline:
            has_newline[t] = "\n" in tok.decode([t])
        return has_newline[t]

    texts: list[str] = []
    for start in range(0, len(prompts), batch_size):
        batch = [tok(p)["input_ids"] for p in prompts[start:start + batch_size]]
        width = max(len(s) for s in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, s in enumerate(batch):
            ids[i, width - len(s):] = torch.tensor(s)
            mask[i, width - len(s):] = 1
        ids, mask = ids.to(device), mask.to(device)
        gen = torch.Generator(device="cpu").manual_seed(int(seed) + start)
        done = torch.zeros(len(batch), dtype=torch.bool)
        out_tokens: list[list[int]] = [[] for _ in batch]
        position = (mask.cumsum(-1) - 1).clamp(min=0)
        out = model(input_ids=ids, attention_mask=mask, position_ids=position, use_cache=True)
        for _ in range(max_new_tokens):
            logits = out.logits[:, -1, :].float().cpu()
            if top_k is None:
                nxt = logits.argmax(-1)
            else:
                vals, idx = torch.topk(torch.softmax(logits, -1), int(top_k), dim=-1)
                pick = torch.multinomial(vals / vals.sum(-1, keepdim=True), 1, generator=gen)
                nxt = idx.gather(1, pick).squeeze(1)
            nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
            for i, t in enumerate(nxt.tolist()):
                if done[i]:
                    continue
                if eos is not None and t == eos:
                    done[i] = True
                    continue
                out_tokens[i].append(t)
                if stop_at_newline and ends_line(t):
                    done[i] = True
            if bool(done.all()):
                break
            step = nxt.view(-1, 1).to(device)
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            past = returned_cache(out)
            if past is not None:
                position = position[:, -1:] + 1
                out = model(input_ids=step, attention_mask=mask, position_ids=position, use_cache=True,
                            **{cache_kw: past})
            else:
                ids = torch.cat([ids, step], dim=1)
                position = (mask.cumsum(-1) - 1).clamp(min=0)
                out = model(input_ids=ids, attention_mask=mask, position_ids=position)
        texts += [tok.decode(t) for t in out_tokens]
    return texts
