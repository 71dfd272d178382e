"""GRACE's `reference` sets equal the EasyEdit files they cite (hparams/GRACE @ 58290cce, the paper's time: n_iter
100 for Llama-2, 200 for GPT-J), and the default's `tuned` set keeps what it ran (n_iter 50, EasyEdit's value from
2024-06-13 on)."""
from pathlib import Path

from seqedit.methods.hparams import load_hparams

HP = Path(__file__).resolve().parents[1] / "config" / "hparams" / "grace.yaml"


def test_reference_is_the_cited_easyedit_file():
    text = HP.read_text()
    assert "58290cce323539d85797489acc874678b9840d39" in text  # the commit the values are read from
    llama = load_hparams(HP, "llama-2-7b", "reference", method="grace")
    assert llama == {"layer": 27, "edit_lr": 1.0, "n_iter": 100, "eps": 1.0, "val_init": "cold",
                     "replacement": "replace_last", "eps_expand": "coverage"}
    assert load_hparams(HP, "gpt-j-6b", "reference", method="grace") == dict(llama, layer=25, n_iter=200)
    assert load_hparams(HP, "smollm2-135m", "reference", method="grace")["n_iter"] == 100


def test_the_default_set_is_unchanged():
    assert load_hparams(HP, "smollm2-135m", "tuned", method="grace")["n_iter"] == 50
