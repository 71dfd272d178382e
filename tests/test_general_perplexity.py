"""Held-out perplexity (seqedit.evaluation.general_perplexity) on designed cases: a uniform model's perplexity is
the vocabulary size, a random model's block NLL equals a hand-computed one, the blocks are the disjoint, fixed
prefix of the text, and the command's record holds what the report pairs on."""
from __future__ import annotations

import json
import math

import pytest
import torch
from tiny_tokenizers import SENTENCES, byte_level_bpe, tiny_llama

from seqedit.evaluation import general_perplexity

DOCS = [" ".join(SENTENCES[i:i + 3]) for i in range(0, 30, 3)]  # ten short documents


def test_uniform_model_has_perplexity_vocab_size():
    tok = byte_level_bpe()
    model = tiny_llama(len(tok))
    model.lm_head.weight.zero_()  # every next token has probability 1/V
    blocks = general_perplexity.token_blocks(tok, DOCS, 96, 32)
    nlls = general_perplexity.block_nlls(model, blocks, batch_size=2)
    assert len(nlls) == 3
    assert all(x == pytest.approx(math.log(len(tok)), rel=1e-6) for x in nlls)
    rec = general_perplexity.summarise(nlls, 32)
    assert rec["perplexity"] == pytest.approx(len(tok), rel=1e-5)
    assert (rec["n_tokens"], rec["n_blocks"], rec["block_length"], rec["scored_tokens"]) == (96, 3, 32, 93)


def test_random_model_matches_a_hand_computed_nll():
    tok = byte_level_bpe()
    model = tiny_llama(len(tok), seed=3)
    blocks = general_perplexity.token_blocks(tok, DOCS, 64, 16)
    got = general_perplexity.block_nlls(model, blocks, batch_size=3)  # a batch size that does not divide the 4 blocks
    for block, nll in zip(blocks, got):
        ids = torch.tensor([block])
        with torch.no_grad():
            logp = torch.log_softmax(model(ids).logits[0].double(), -1)
        by_hand = -sum(logp[i - 1, block[i]].item() for i in range(1, len(block))) / (len(block) - 1)
        assert nll == pytest.approx(by_hand, abs=1e-5)
    assert len(set(round(x, 6) for x in got)) == 4  # the blocks differ, so do their NLLs
    assert general_perplexity.summarise(got, 16)["mean_nll"] == pytest.approx(sum(got) / 4, abs=1e-12)


def test_blocks_are_the_disjoint_fixed_prefix_of_the_text():
    tok = byte_level_bpe()
    joint = tok("\n\n".join(DOCS), add_special_tokens=False)["input_ids"]
    blocks = general_perplexity.token_blocks(tok, DOCS, 120, 40)
    assert [len(b) for b in blocks] == [40, 40, 40]
    assert [t for b in blocks for t in b] == joint[:120]  # consecutive, non-overlapping, nothing skipped
    assert general_perplexity.token_blocks(tok, iter(DOCS), 120, 40) == blocks  # deterministic
    assert general_perplexity.token_blocks(tok, DOCS + ["More text after the cut."] * 5, 120, 40) == blocks  # a prefix
    digest = general_perplexity.tokens_digest
    assert digest(blocks) == digest(general_perplexity.token_blocks(tok, DOCS, 120, 40))
    assert digest(blocks) != digest(general_perplexity.token_blocks(tok, DOCS[1:], 120, 40))
    with pytest.raises(ValueError, match="fewer than n_tokens"):
        general_perplexity.token_blocks(tok, DOCS[:1], 4000, 40)


@pytest.mark.parametrize("n_tokens, block_length", [(100, 40), (20, 40), (40, 1)])
def test_sizes_must_make_whole_blocks(n_tokens, block_length):
    with pytest.raises(ValueError, match="general perplexity"):
        general_perplexity.check_sizes(n_tokens, block_length)
    assert general_perplexity.check_sizes(16384, 512) == 32


def test_cli_records_base_and_checkpoint(tmp_path, data_mirror):
    """Base model: random; the checkpoint zeroes the output head (a ROME-format checkpoint of one weight), so its
    perplexity is exactly the vocabulary size on the same blocks of the registered WikiText-2 train excerpt."""
    from seqedit.checkpoints import save_checkpoint
    from seqedit.files import sha256_file

    tok = byte_level_bpe()
    model = tiny_llama(len(tok), seed=1)
    model.lm_head.weight.mul_(200)  # far from uniform
    model_dir = tmp_path / "tiny"
    model.save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    ckpt = tmp_path / "edits" / "step_4.safetensors"
    ckpt.parent.mkdir()
    save_checkpoint(ckpt, {"lm_head.weight": torch.zeros_like(model.lm_head.weight)}, {},
                    {"model": "tiny", "dataset": "zsre", "method": "rome", "n_edits": 4, "request_ids": []})
    common = ["--model-dir", str(model_dir), "--corpus", "wikitext2-train-excerpt", "--n-tokens", "256",
              "--block-length", "64", "--mirror", str(data_mirror), "--device", "cpu"]
    base_out, edited_out = tmp_path / "base.json", tmp_path / "zsre" / "rome" / "step_4.json"
    general_perplexity.cli("general-perplexity", [*common, "--model-name", "tiny", "--out", str(base_out)])
    general_perplexity.cli("general-perplexity", [*common, "--checkpoint", str(ckpt), "--out", str(edited_out)])
    base, edited = json.loads(base_out.read_text()), json.loads(edited_out.read_text())

    text = data_mirror / "wikitext" / "wikitext2_raw_train_excerpt_hypertensor.txt"
    assert base["text_sha256"] == edited["text_sha256"] == sha256_file(text)
    assert base["text_sha256"].startswith("ed14f9ef053842b4")  # the registry's pin
    assert base["tokens_sha256"] == edited["tokens_sha256"]  # the same blocks
    for rec in (base, edited):
        assert (rec["corpus"], rec["n_tokens"], rec["block_length"], rec["n_blocks"]) == \
            ("wikitext2-train-excerpt", 256, 64, 4)
        assert rec["scored_tokens"] == 4 * 63 and len(rec["block_nll"]) == 4
        assert rec["mean_nll"] == pytest.approx(sum(rec["block_nll"]) / 4, abs=1e-12)
        assert rec["perplexity"] == pytest.approx(math.exp(rec["mean_nll"]), rel=1e-12)
        assert rec["dtype"] == "float32" and rec["device"] == "cpu"
    assert (base["model"], base["dataset"], base["method"], base["n_edits"], base["checkpoint"]) == \
        ("tiny", None, None, 0, None)
    assert (edited["model"], edited["dataset"], edited["method"], edited["n_edits"]) == ("tiny", "zsre", "rome", 4)
    assert edited["perplexity"] == pytest.approx(len(tok), rel=1e-5)
    assert abs(base["perplexity"] - len(tok)) > 50  # the scaled random head is far from uniform
