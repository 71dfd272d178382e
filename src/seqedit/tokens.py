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


STARTERS = ["The", "Therefore", "Because", "I", "You"]  # the reference generate_fast's starter words, in order


def generate_context_templates(model, tok, length_params, seed: int = 0) -> list[list[str]]:
    """ROME/MEMIT context templates: ``[["{}"], [generated prefix + ". {}", ...], ...]``.

    For each ``(length, n_gen)`` pair, ``n_gen // 5`` samples per starter word ("The", "Therefore", "Because",
    "I", "You") of at most ``length`` tokens, top-k 5 sampling as the reference ``generate_fast``. Seeded, so
    the templates are reproducible; the workflow stores them in the checkpoint and reuses them when resuming.

    The samples are defined one after another: sample by sample, token by token, one ``torch.multinomial`` draw
    per token from one generator seeded with ``seed``. They are computed in lockstep: the samples whose starters
    have the same token count run as one batch with a key/value cache, each with its own generator moved to the
    draw where its turn begins (a top-5 draw always consumes the same amount of generator state). So the draws are
    those of the one-at-a-time loop; the logits differ from it by float round-off of the batched products only
    (tests/test_context_templates.py compares both on a model).
    """
    device = next(model.parameters()).device
    samples = []  # (group, starter ids, new tokens, index of its first draw), in the one-at-a-time order
    draws = 0
    for g, (length, n_gen) in enumerate(length_params):
        for starter in STARTERS:
            ids = tok(starter, add_special_tokens=False)["input_ids"]
            for _ in range(max(1, n_gen // 5)):
                steps = max(0, length - len(ids))
                samples.append((g, list(ids), steps, draws))
                draws += steps
    texts: list[str | None] = [None] * len(samples)
    by_shape: dict[tuple[int, int], list[int]] = {}
    for i, (_, ids, steps, _) in enumerate(samples):
        by_shape.setdefault((len(ids), steps), []).append(i)
    for (_, steps), members in by_shape.items():
        gens = [_generator_at(seed, samples[i][3]) for i in members]
        out = _sample_lockstep(model, torch.tensor([samples[i][1] for i in members], device=device), steps, gens)
        for i, row in zip(members, out):
            texts[i] = tok.decode(row, skip_special_tokens=True)
    groups: list[list[str]] = [["{}"]] + [[] for _ in length_params]
    for (g, _, _, _), text in zip(samples, texts):
        groups[g + 1].append(text.replace("{", " ").replace("}", " ") + ". {}")
    return groups


_TOP_K = 5


def _generator_at(seed: int, n_draws: int) -> torch.Generator:
    """A generator seeded with ``seed`` after ``n_draws`` top-k draws (what the one-at-a-time loop had drawn)."""
    gen = torch.Generator().manual_seed(seed)
    uniform = torch.full((_TOP_K,), 1.0 / _TOP_K)
    for _ in range(n_draws):
        torch.multinomial(uniform, 1, generator=gen)
    return gen


def _sample_lockstep(model, ids: torch.Tensor, steps: int, gens: list[torch.Generator]) -> list[list[int]]:
    """``steps`` top-k samples appended to every row of ``ids`` (rows of equal length, no padding), row ``i``
    drawing from ``gens[i]``; one forward per token with a key/value cache."""
    from .kv_cache import cache_kwarg, returned_cache

    cache, step_ids = None, ids
    with torch.no_grad():
        for _ in range(steps):
            kwargs = {"use_cache": True, **(cache_kwarg(model, cache) if cache is not None else {})}
            out = model(input_ids=step_ids, **kwargs)
            cache = returned_cache(out)
            logits = out.logits[:, -1].float()
            top = torch.topk(logits, _TOP_K, dim=-1)
            probs = torch.softmax(top.values, dim=-1).cpu()
            picks = [int(torch.multinomial(probs[i], 1, generator=gen)) for i, gen in enumerate(gens)]
            choice = top.indices[torch.arange(len(gens), device=ids.device), torch.tensor(picks, device=ids.device)]
            step_ids = choice.view(-1, 1)
            ids = torch.cat([ids, step_ids], dim=1)
    return ids.tolist()


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
