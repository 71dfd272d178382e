"""Target perplexity under the unedited model (seqedit.evaluation.perplexity) on designed cases."""
from __future__ import annotations

import json
import math

import pytest
import torch
from tiny_tokenizers import byte_level_bpe, tiny_llama

from seqedit.evaluation.perplexity import cli, perplexity_record, summarise, target_perplexities


def _uniform_model(tok):
    """Zero output head: every next token has probability 1/V, so every target's perplexity is exactly V."""
    model = tiny_llama(len(tok))
    model.lm_head.weight.zero_()
    return model


REQUESTS = [
    {"id": "0", "prompt": "The capital of France is", "target_new": "Paris"},
    {"id": "1", "prompt": "Toko Yasuda plays the", "target_new": "guitar and the piano"},
    {"id": "2", "prompt": "Claim: The mother tongue of Danielle Darrieux is French. Answer:", "target_new": "yes"},
]


def test_uniform_model_has_perplexity_vocab_size():
    tok = byte_level_bpe()
    per = target_perplexities(_uniform_model(tok), tok, REQUESTS, batch_size=2)
    assert [p["id"] for p in per] == ["0", "1", "2"]
    assert all(p["ppl"] == pytest.approx(len(tok), rel=1e-5) for p in per)
    assert per[1]["target_tokens"] > per[0]["target_tokens"] >= 1


def test_summary_numbers():
    per = [{"id": str(i), "ppl": p, "target_tokens": 1} for i, p in enumerate([2.0, 8.0, 32.0])]
    s = summarise(per)
    assert s["n"] == 3 and s["mean"] == pytest.approx(14.0) and s["median"] == 8.0
    assert s["geometric_mean"] == pytest.approx(8.0)
    with pytest.raises(ValueError, match="nothing to summarise"):
        summarise([])


def test_cli_writes_the_record(tmp_path):
    tok = byte_level_bpe()
    model_dir = tmp_path / "uniform"
    _uniform_model(tok).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    requests = tmp_path / "mqd_tf.jsonl"
    requests.write_text("".join(json.dumps(r) + "\n" for r in REQUESTS))
    out = tmp_path / "ppl" / "mqd_tf.json"
    cli("target-perplexity", ["--model-dir", str(model_dir), "--requests", str(requests), "--out", str(out),
                              "--model-name", "tiny", "--device", "cpu"])
    rec = json.loads(out.read_text())
    assert (rec["model"], rec["dataset"], rec["n"]) == ("tiny", "mqd_tf", 3)
    assert rec["mean"] == pytest.approx(len(tok), rel=1e-5) and rec["median"] == pytest.approx(len(tok), rel=1e-5)
    assert len(rec["requests"]) == 3


def test_smollm2_matches_a_hand_computed_forward(smollm2):
    """Teacher forcing by hand on the real model: exp of the mean NLL of the target tokens after the prompt."""
    model, tok = smollm2
    prompt, target = "The capital of France is", "Paris"
    rec = perplexity_record(model, tok, [{"id": "x", "prompt": prompt, "target_new": target}], "smollm2", "d")
    ids = tok(prompt + " " + target, return_tensors="pt").input_ids[0]
    n_prompt = len(tok(prompt).input_ids)
    with torch.no_grad():
        logp = torch.log_softmax(model(ids.unsqueeze(0)).logits[0].float(), -1)
    nll = -torch.stack([logp[i - 1, ids[i]] for i in range(n_prompt, len(ids))]).mean().item()
    assert rec["mean"] == pytest.approx(math.exp(nll), rel=1e-4)
    assert 1.0 <= rec["mean"] < 20.0  # SmolLM2 knows the capital of France
