"""Targets are scored on ``prompt + " " + target`` tokenised as one text (EasyEdit's evaluation), on a
SentencePiece tokenizer with Llama-2's settings and on a byte-level BPE; tokenisers trained in the test."""
from __future__ import annotations

import pytest
import torch

from seqedit.evaluation import counterfact
from seqedit.evaluation import metrics
from seqedit.methods.ft_m import FTM
from seqedit.methods.grace import GRACE
from seqedit.models.registry import LLAMA
from seqedit.tokens import prompt_target_ids
from tiny_tokenizers import byte_level_bpe, llama2_style, sentencepiece_slow, tiny_llama

PROMPT, TARGET = "The capital of France is", "Paris"


@pytest.fixture(scope="module")
def sp_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("sp"))


@pytest.fixture(scope="module", params=["llama2_json", "sentencepiece_slow"])
def sp_tok(request, sp_dir):
    return llama2_style(sp_dir) if request.param == "llama2_json" else sentencepiece_slow(sp_dir)


def pieces(tok, ids):
    return tok.convert_ids_to_tokens(list(ids))


def word(tok, text=TARGET):
    """The pieces of a word as SentencePiece writes it after a space: "▁" + word, split by the vocabulary."""
    got = pieces(tok, tok(text, add_special_tokens=False)["input_ids"])
    assert got[0].startswith("▁") and got[0] != "▁"
    return got


def test_separate_target_ids_start_with_a_bare_piece(sp_tok):
    """The trap the joint tokenisation avoids: ``" Paris"`` alone gets a bare "▁" (Llama-2's id 29871)."""
    assert pieces(sp_tok, sp_tok(" " + TARGET, add_special_tokens=False)["input_ids"]) == ["▁", *word(sp_tok)]


def test_joint_ids_on_sentencepiece(sp_tok):
    ids, n = prompt_target_ids(sp_tok, PROMPT, TARGET)
    assert ids[:n] == sp_tok(PROMPT)["input_ids"]
    assert pieces(sp_tok, ids[n:]) == word(sp_tok)
    # a bare "▁" the joint text itself has (Llama-2 splits digits) is the space's token and is scored
    ids, n = prompt_target_ids(sp_tok, "She was born in", "1990")
    assert pieces(sp_tok, ids[n:]) == ["▁", "1", "9", "9", "0"]


def test_joint_ids_on_byte_level_bpe():
    tok = byte_level_bpe()
    ids, n = prompt_target_ids(tok, PROMPT, TARGET)
    assert ids[:n] == tok(PROMPT)["input_ids"]
    assert pieces(tok, ids[n:])[0].startswith("Ġ") and tok.decode(ids[n:]) == " Paris"
    assert ids[n:] == tok(" Paris")["input_ids"]  # byte-level BPE: joint and separate ids agree


def _joint_logp(model, tok, prompt, target):
    ids, n = prompt_target_ids(tok, prompt, target)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0].float()
    rows = logits[n - 1: len(ids) - 1]
    return rows, torch.tensor(ids[n:])


@pytest.mark.parametrize("kind", ["sentencepiece", "byte_level_bpe"])
def test_scores_read_the_joint_target_positions(kind, sp_dir):
    tok = llama2_style(sp_dir) if kind == "sentencepiece" else byte_level_bpe()
    model = tiny_llama(len(tok))
    prompts, targets = [PROMPT, "She was born in"], [TARGET, "1990"]
    preds = metrics.argmax_at_targets(model, tok, prompts, targets)
    accs = metrics.token_accuracy(model, tok, prompts, targets)
    nlls = counterfact.target_nll(model, tok, prompts, targets)
    for pred, acc, nll, p, t in zip(preds, accs, nlls, prompts, targets):
        rows, want = _joint_logp(model, tok, p, t)
        assert pred == rows.argmax(-1).tolist()
        assert nll == pytest.approx(-torch.log_softmax(rows, -1).gather(1, want[:, None]).mean().item(), abs=1e-5)
        assert acc == pytest.approx(sum(int(a == b) for a, b in zip(pred, want.tolist())) / len(want))
    if kind == "sentencepiece":
        assert len(preds[0]) == len(word(tok))  # no position for a bare "▁"
    labels = [labels for _, labels, _ in metrics.score_targets(model, tok, prompts, targets)]
    assert labels == [prompt_target_ids(tok, p, t)[0][prompt_target_ids(tok, p, t)[1]:]
                      for p, t in zip(prompts, targets)]


def test_ft_m_and_grace_train_on_the_joint_target(sp_dir):
    tok = llama2_style(sp_dir)
    model = tiny_llama(len(tok))
    req = {"id": "0", "prompt": PROMPT, "subject": "France", "target_new": TARGET}
    joint, n = prompt_target_ids(tok, PROMPT, TARGET)
    ftm = FTM(model, tok, LLAMA, {"layers": [1], "num_steps": 1, "lr": 1e-3, "weight_decay": 0,
                                  "norm_constraint": False}, None, [["{}"]])
    ids, pos, tgt = ftm.batch(req)
    assert ids[0].tolist() == joint and pieces(tok, tgt.tolist()) == word(tok)
    assert pos.tolist() == list(range(n - 1, len(joint) - 1))
    grace = GRACE(model, tok, LLAMA, {"layer": 1, "edit_lr": 1.0, "n_iter": 2, "eps": 1.0, "val_init": "cold",
                                      "replacement": "replace_last", "eps_expand": "coverage"}, None, [["{}"]])
    try:
        grace.edit(req)
        assert pieces(tok, grace.adaptor.labels[0]) == word(tok)
        # the key is the MLP-output input at the prompt's last token of the joint text
        assert len(grace.adaptor.keys) == 1
    finally:
        grace.adaptor.remove()
