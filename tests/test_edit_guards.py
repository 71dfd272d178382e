"""An edit that produces NaN/inf stops with the method, edit, request and hyperparameter set named; a checkpoint
records everything that determines it and `--resume` refuses to continue a chain with other settings."""
from __future__ import annotations

import pytest
import torch

from edit_fixtures import REQUESTS
from seqedit.checkpoints import load_checkpoint
from seqedit.editing import SequentialEditor
from seqedit.finite import NonFiniteEditError, check_edit
from seqedit.methods.hparams import load_hparams
from seqedit.resume import check_resume
from tiny_workflow import ROOT

TEMPLATES = [["{}"]]


def editor(model, tok, method, stats=None, **overrides):
    hp = {**load_hparams(ROOT / "config" / "hparams" / f"{method}.yaml", "smollm2-135m", "tuned"), **overrides}
    ed = SequentialEditor(model, tok, "smollm2-135m", method, hp, context_templates=TEMPLATES, seed=3,
                          immediate_eval=False, hparams_set="tuned")
    ed.method.stats = stats
    return ed


def test_an_edit_giving_nan_weights_stops_naming_method_edit_request_and_set(clean_model, stats):
    model, tok = clean_model
    ed = editor(model, tok, "memit", stats, kl_factor=1e39, v_num_grad_steps=2)  # the case
    with pytest.raises(NonFiniteEditError) as err:
        ed.edit_one(REQUESTS[0])
    msg = str(err.value)
    assert msg.startswith("memit: edit 1 (request '0')") and "'tuned'" in msg
    # stopped inside the value optimisation, before a NaN reaches the weights (kl_factor 1e39 makes its loss inf)
    assert "value optimisation diverged" in msg and "requests" not in msg.split(":")[0]
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())


def test_check_edit_names_non_finite_logged_values():
    import torch

    check_edit({"w": torch.ones(2)}, {"z_prob_last": 0.5, "z_steps": 3}, method="rome", edit_index=4,
               request_id="7", hparams_set="tuned")  # finite: nothing raised
    with pytest.raises(NonFiniteEditError, match=r"rome: edit 4 \(request '7'\).*z_prob_last=inf.*'reference'"):
        check_edit({"w": torch.ones(2)}, {"z_prob_last": float("inf")}, method="rome", edit_index=4,
                   request_id="7", hparams_set="reference")


@pytest.fixture()
def rome_checkpoint(clean_model, tmp_path):
    model, tok = clean_model
    ed = editor(model, tok, "rome")
    path = tmp_path / "step_0.safetensors"
    ed.checkpoint(path, "zsre", "tuned")
    return path, ed.hparams


def test_a_checkpoint_records_everything_that_determines_it(rome_checkpoint):
    path, hp = rome_checkpoint
    meta = load_checkpoint(path)[2]
    assert (meta["hparams_set"], meta["seed"], meta["dtype"], meta["request_ids"]) == ("tuned", 3, "float32", [])
    assert meta["hparams"] == hp


def want(hp, **changes):
    return {"model": "smollm2-135m", "dataset": "zsre", "method": "rome", "hparams_set": "tuned", "hparams": hp,
            "seed": 3, "dtype": "float32", **changes}


@pytest.mark.parametrize("change,needle", [
    ({"seed": 4}, "another seed (3 in the checkpoint, 4 now)"),
    ({"hparams_set": "reference"}, "another hparams_set ('tuned' in the checkpoint, 'reference' now)"),
    ({"dtype": "bfloat16"}, "another dtype"),
    ({"method": "memit"}, "another method"),
])
def test_resume_refuses_a_checkpoint_made_with_other_settings(rome_checkpoint, change, needle):
    path, hp = rome_checkpoint
    meta = load_checkpoint(path)[2]
    check_resume(path, meta, want(hp), ["0", "1"], 1)  # same settings: accepted
    with pytest.raises(ValueError, match="--resume") as err:
        check_resume(path, meta, want(hp, **change), ["0", "1"], 1)
    assert needle in str(err.value) and "--forcerun edit" in str(err.value)


def test_resume_refuses_other_hyperparameter_values_naming_them(rome_checkpoint):
    path, hp = rome_checkpoint
    meta = load_checkpoint(path)[2]
    with pytest.raises(ValueError, match=r"another hparams \(v_lr: 0\.5 in the checkpoint, 0\.1 now\)"):
        check_resume(path, meta, want({**hp, "v_lr": 0.1}), ["0"], 1)


def test_resume_refuses_a_checkpoint_that_does_not_record_the_seed(rome_checkpoint):
    path, hp = rome_checkpoint
    meta = {k: v for k, v in load_checkpoint(path)[2].items() if k != "seed"}
    with pytest.raises(ValueError, match="records no 'seed'"):
        check_resume(path, meta, want(hp), ["0"], 1)
