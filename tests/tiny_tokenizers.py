"""Tokenizers trained in a second from a few sentences, for tests that must not download anything.

- :func:`llama2_style`: a SentencePiece BPE model trained with Llama-2's settings (dummy prefix, no whitespace
  squeezing, digits split), wrapped as a transformers ``LlamaTokenizer`` with the pipeline of Llama-2's
  ``tokenizer.json`` on the Hub (normaliser: prepend "▁", spaces -> "▁"; no pre-tokenizer), which is how
  transformers 4.x's ``LlamaTokenizerFast`` loads Llama-2. Tokenised alone, ``" Paris"`` starts with a bare "▁".
- :func:`sentencepiece_slow`: the same model through the sentencepiece library itself (transformers'
  ``SentencePieceBackend``, ``legacy=True``: the slow ``LlamaTokenizer`` EasyEdit loads), no BOS.
- :func:`byte_level_bpe`: a GPT-2-style byte-level BPE (GPT-J's kind) trained with ``tokenizers``.
"""
from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

SENTENCES = [
    "The capital of France is Paris.",
    "The mother tongue of Danielle Darrieux is French.",
    "Toko Yasuda plays the guitar and the piano.",
    "Autonomous University of Madrid is located in Spain.",
    "She was born in 1990 in Rome, the capital of Italy.",
    "The official religion of Edwin of Northumbria is Christianity.",
] * 40


@lru_cache(maxsize=None)
def sentencepiece_model(directory: str) -> str:
    import sentencepiece as spm

    path = Path(directory) / "tokenizer.model"
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(SENTENCES), model_writer=buf, vocab_size=150, model_type="bpe",
        character_coverage=1.0, split_digits=True, add_dummy_prefix=True, remove_extra_whitespaces=False,
        normalization_rule_name="identity", unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2)
    path.write_bytes(buf.getvalue())
    return str(path)


def llama2_style(directory: str):
    from tokenizers import normalizers
    from transformers import LlamaTokenizer
    from transformers.tokenization_utils_sentencepiece import SentencePieceExtractor

    vocab, _, merges = SentencePieceExtractor(sentencepiece_model(directory)).extract()
    tok = LlamaTokenizer(vocab=vocab, merges=merges, add_bos_token=True)
    backend = tok.backend_tokenizer
    backend.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    backend.pre_tokenizer = None
    tok.pad_token = tok.eos_token
    return tok


def sentencepiece_slow(directory: str):
    from transformers.tokenization_utils_sentencepiece import SentencePieceBackend

    tok = SentencePieceBackend(vocab_file=sentencepiece_model(directory), legacy=True, unk_token="<unk>",
                               bos_token="<s>", eos_token="</s>")
    tok.pad_token = tok.eos_token
    return tok


def byte_level_bpe():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(SENTENCES, trainers.BpeTrainer(
        vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=["<|endoftext|>"],
        show_progress=False))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>")
    tok.pad_token = tok.eos_token
    return tok


def tiny_llama(vocab_size: int, n_layers: int = 2, seed: int = 0):
    """A randomly initialised Llama-architecture model, small enough for a test (no download)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=n_layers,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=128)
    model = LlamaForCausalLM(cfg).eval()
    model.requires_grad_(False)
    return model
