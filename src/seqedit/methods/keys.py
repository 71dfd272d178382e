"""Keys: the input of the MLP output projection at the subject's last token, averaged over context templates."""
from __future__ import annotations

import torch

from ..nethooks import capture, run
from ..tokens import subject_token_index, to_template


def reprs_at_subject(model, tok, arch, layers: list[int], texts_templates: list[tuple[str, str]],
                     fact_token: str, track: str = "in", module: str | None = None) -> dict[int, torch.Tensor]:
    """For each ``(template, subject)`` return the MLP-output-projection input (``track="in"``) or output at the
    subject token, for every layer in ``layers``: ``{layer: tensor (n, d)}``. One forward, stopped after the
    last layer needed."""
    names = {layer: (module or arch.mlp_out).format(layer) for layer in layers}
    texts = [t.replace("{}", s) for t, s in texts_templates]
    idxs = [subject_token_index(tok, t, s, fact_token) for t, s in texts_templates]
    device = next(model.parameters()).device
    enc = tok(texts, return_tensors="pt", padding=True).to(device)
    last = names[max(layers)]
    with torch.no_grad(), capture(model, inputs=list(names.values()) if track == "in" else [],
                                  outputs=list(names.values()) if track == "out" else [], stop_after=last) as st:
        run(model, input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
    rows = torch.arange(len(texts), device=device)
    cols = torch.tensor(idxs, device=device)
    return {layer: st[(track, name)][rows, cols] for layer, name in names.items()}


def compute_keys(model, tok, arch, layer: int, requests: list[dict], context_templates: list[list[str]],
                 fact_token: str) -> torch.Tensor:
    """MEMIT's ``compute_ks``: per request, average over each template group, then over the groups. ``(n, d_in)``."""
    pairs = []
    for req in requests:
        template = to_template(req["prompt"], req["subject"])
        for group in context_templates:
            for ctx in group:
                pairs.append((ctx.replace("{}", template), req["subject"]))
    reps = reprs_at_subject(model, tok, arch, [layer], pairs, fact_token)[layer]
    sizes = [len(g) for g in context_templates]
    per_req = sum(sizes)
    out = []
    for r in range(len(requests)):
        block = reps[r * per_req:(r + 1) * per_req]
        means, start = [], 0
        for size in sizes:
            means.append(block[start:start + size].mean(0))
            start += size
        out.append(torch.stack(means).mean(0))
    return torch.stack(out)
