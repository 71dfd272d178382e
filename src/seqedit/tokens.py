"""Token positions of subjects in prompts, and ROME/MEMIT context templates."""
from __future__ import annotations

import torch


def subject_token_index(tok, template: str, subject: str, strategy: str = "subject_last") -> int:
    """Index of the subject's last (or first) token in ``template.format(subject)``.

    Uses the tokenizer's character offsets, so it is exact even where BPE merges a space into the subject.
    ``template`` holds ``{}`` where the subject goes (ROME's convention).
    """
    if "{}" not in template:
        raise ValueError(f"template {template!r} has no '{{}}' placeholder for the subject")
    if strategy == "last":
        return len(tok(template.format(subject))["input_ids"]) - 1
    start = template.index("{}")
    end = start + len(subject)
    text = template.format(subject)
    enc = tok(text, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    if strategy == "subject_last":
        idx = [i for i, (s, e) in enumerate(offsets) if s < end and e > s]
        if not idx:
            raise ValueError(f"subject {subject!r} not found among tokens of {text!r}")
        return max(i for i in idx if offsets[i][0] < end)
    if strategy == "subject_first":
        for i, (s, e) in enumerate(offsets):
            if e > start and e > s:
                return i
        raise ValueError(f"subject {subject!r} not found among tokens of {text!r}")
    raise ValueError(f"unknown fact_token strategy {strategy!r} (subject_last, subject_first, last)")


def to_template(prompt: str, subject: str) -> str:
    """Turn a filled prompt into a ROME template by replacing the subject's first occurrence with ``{}``."""
    if "{}" in prompt:
        return prompt
    if subject not in prompt:
        raise ValueError(f"subject {subject!r} does not occur in prompt {prompt!r}")
    return prompt.replace(subject, "{}", 1)


def generate_context_templates(model, tok, length_params, seed: int = 0) -> list[list[str]]:
    """ROME/MEMIT context templates: ``[["{}"], [generated prefix + ". {}", ...], ...]``.

    For each ``(length, n_gen)`` pair, ``n_gen // 5`` samples per starter word ("The", "Therefore", "Because",
    "I", "You") of at most ``length`` tokens, top-k 5 sampling as the reference ``generate_fast``. Seeded, so
    the templates are reproducible; the workflow stores them in the checkpoint and reuses them when resuming.
    """
    starters = ["The", "Therefore", "Because", "I", "You"]
    gen = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    groups: list[list[str]] = [["{}"]]
    for length, n_gen in length_params:
        group = []
        for starter in starters:
            for _ in range(max(1, n_gen // 5)):
                ids = tok(starter, return_tensors="pt", add_special_tokens=False)["input_ids"].to(device)
                with torch.no_grad():
                    for _step in range(max(0, length - ids.shape[1])):
                        logits = model(input_ids=ids).logits[0, -1].float()
                        top = torch.topk(logits, 5)
                        probs = torch.softmax(top.values, dim=-1).cpu()
                        choice = top.indices[torch.multinomial(probs, 1, generator=gen)].to(device)
                        ids = torch.cat([ids, choice.view(1, 1)], dim=1)
                text = tok.decode(ids[0], skip_special_tokens=True)
                group.append(text.replace("{", " ").replace("}", " ") + ". {}")
        groups.append(group)
    return groups


def prompt_target_ids(tok, prompt: str, target: str) -> tuple[list[int], int]:
    """EasyEdit's evaluation tokenisation: ``prompt + " " + target`` tokenised as one text.

    Returns ``(ids, n_prompt)``: ``ids[n_prompt:]`` are the target's tokens, predicted by the logits at positions
    ``n_prompt - 1 .. len(ids) - 2``. ``n_prompt`` is the length of the prompt tokenised alone (EasyEdit's
    ``num_prompt_toks``) when those ids are a prefix of the joint ids, as they are for SentencePiece and byte-level
    BPE unless the prompt's end merges with the target; then only the common prefix counts as the prompt.

    Tokenising ``" " + target`` on its own, as this module did before, gives a SentencePiece tokenizer (Llama-2)
    a bare "▁" piece (id 29871 in Llama-2) that the joint text does not have: one extra, spurious scored position.
    A bare "▁" that the joint text itself produces (Llama-2 before digits, or before a word with no "▁"-prefixed
    piece) is the separating space's token and is scored, as EasyEdit scores it.
    """
    sep = "" if target.startswith(" ") else " "
    ids = list(tok(prompt + sep + target)["input_ids"])
    p_ids = list(tok(prompt)["input_ids"])
    n = len(p_ids)
    if ids[:n] != p_ids:
        n = next(i for i, (a, b) in enumerate(zip(ids, p_ids)) if a != b)
    if n >= len(ids) or n == 0:
        raise ValueError(f"target {target!r} leaves no target token after prompt {prompt!r}")
    return ids, n
