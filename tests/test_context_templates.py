"""Context templates sampled in lockstep with a key/value cache are those of the one-at-a-time loop (issue 10)."""
from __future__ import annotations

import pytest
import torch

from seqedit.tokens import STARTERS, _generator_at, generate_context_templates


def one_at_a_time(model, tok, length_params, seed: int = 0) -> list[list[str]]:
    """The loop this module ran before (and the reference ``generate_fast`` order): one sample after another, a
    full forward per token, one generator for every draw."""
    gen = torch.Generator().manual_seed(seed)
    groups = [["{}"]]
    for length, n_gen in length_params:
        group = []
        for starter in STARTERS:
            for _ in range(max(1, n_gen // 5)):
                ids = tok(starter, return_tensors="pt", add_special_tokens=False)["input_ids"]
                with torch.no_grad():
                    for _step in range(max(0, length - ids.shape[1])):
                        logits = model(input_ids=ids).logits[0, -1].float()
                        top = torch.topk(logits, 5)
                        probs = torch.softmax(top.values, dim=-1)
                        choice = top.indices[torch.multinomial(probs, 1, generator=gen)]
                        ids = torch.cat([ids, choice.view(1, 1)], dim=1)
                text = tok.decode(ids[0], skip_special_tokens=True)
                group.append(text.replace("{", " ").replace("}", " ") + ". {}")
        groups.append(group)
    return groups


def test_a_fast_forwarded_generator_continues_the_one_generator():
    probs = torch.softmax(torch.randn(5, generator=torch.Generator().manual_seed(3)), -1)
    gen = torch.Generator().manual_seed(7)
    seq = [int(torch.multinomial(probs, 1, generator=gen)) for _ in range(40)]
    for start in (0, 1, 13, 39):
        ahead = _generator_at(7, start)
        assert [int(torch.multinomial(probs, 1, generator=ahead)) for _ in range(40 - start)] == seq[start:]


@pytest.mark.parametrize("seed", [0, 1])
def test_lockstep_equals_one_at_a_time_on_a_tiny_llama(seed):
    from tiny_tokenizers import byte_level_bpe, tiny_llama

    tok = byte_level_bpe()
    model = tiny_llama(len(tok), n_layers=2, seed=0)
    # the tiny tokenizer splits some starters into several tokens: samples of unequal length, several batches
    assert len({len(tok(s, add_special_tokens=False)["input_ids"]) for s in STARTERS}) > 1
    for params in ([[5, 10], [10, 10]], [[10, 5]], [[2, 5]]):
        want = one_at_a_time(model, tok, params, seed)
        got = generate_context_templates(model, tok, params, seed)
        assert got == want
        assert [len(g) for g in got] == [1] + [max(1, n // 5) * 5 for _, n in params]


@pytest.mark.slow
def test_lockstep_equals_one_at_a_time_on_smollm2(smollm2):
    model, tok = smollm2
    for params in ([[5, 10], [10, 10]], [[10, 5]]):
        assert generate_context_templates(model, tok, params, 0) == one_at_a_time(model, tok, params, 0)
