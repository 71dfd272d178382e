"""Checkpoints and layer statistics are verified on load (checksum, truncation, NaN), the error names the file and
how to rebuild it; stale temporaries of a killed write are removed when the command starts again."""
from __future__ import annotations

import json

import pytest
import torch

from seqedit import atomic, tensorfile
from seqedit.checkpoints import json_path, load_checkpoint, save_checkpoint
from seqedit.cli import main
from seqedit.stats_file import load_layer_stats

META = {"model": "smollm2-135m", "dataset": "zsre", "method": "memit", "n_edits": 1, "hparams_set": "tuned",
        "hparams": {"v_lr": 0.5}, "seed": 0, "dtype": "float32", "request_ids": ["0"], "log": []}


def write_checkpoint(tmp_path, weight=None):
    path = tmp_path / "step_1.safetensors"
    weight = torch.arange(12, dtype=torch.float32).reshape(3, 4) if weight is None else weight
    save_checkpoint(path, {"w": weight}, {"A.4": torch.ones(2, 2, dtype=torch.float64)}, dict(META))
    return path


def flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x10  # inside the last tensor's bytes; the size stays the same
    path.write_bytes(bytes(data))


def test_a_checkpoint_loads_back_with_its_checksum(tmp_path):
    path = write_checkpoint(tmp_path)
    weights, state, meta = load_checkpoint(path)
    assert torch.equal(weights["w"], torch.arange(12, dtype=torch.float32).reshape(3, 4))
    assert torch.equal(state["A.4"], torch.ones(2, 2, dtype=torch.float64))
    assert meta["tensors_sha256"] == tensorfile.tensors_sha256({"weight::w": weights["w"], "state::A.4": state["A.4"]})


def test_a_flipped_byte_in_a_checkpoint_is_refused_naming_the_file(tmp_path):
    path = write_checkpoint(tmp_path)
    flip_last_byte(path)
    with pytest.raises(tensorfile.CorruptFileError, match="checksum") as err:
        load_checkpoint(path)
    assert str(path) in str(err.value) and f"--forcerun {path}" in str(err.value)


def test_a_truncated_checkpoint_is_refused_naming_the_file(tmp_path):
    path = write_checkpoint(tmp_path)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(tensorfile.CorruptFileError, match="truncated") as err:
        load_checkpoint(path)
    assert str(path) in str(err.value) and "rerun snakemake" in str(err.value)


def test_a_checkpoint_with_a_json_of_another_run_is_refused(tmp_path):
    path = write_checkpoint(tmp_path)
    meta = json.loads(json_path(path).read_text())
    write_checkpoint(tmp_path, weight=torch.zeros(3, 4))  # tensors of a second run, then the first run's JSON
    json_path(path).write_text(json.dumps(meta))
    with pytest.raises(tensorfile.CorruptFileError, match="different runs"):
        load_checkpoint(path)


def test_a_checkpoint_without_checksum_is_refused(tmp_path):
    path = tmp_path / "step_1.safetensors"
    atomic.save_safetensors(path, {"weight::w": torch.ones(2)}, metadata={"format": "seqedit-checkpoint-1"})
    atomic.write_json(json_path(path), META)
    with pytest.raises(tensorfile.CorruptFileError, match="no sha256"):
        load_checkpoint(path)


def test_a_checkpoint_with_nan_weights_is_refused(tmp_path):
    weight = torch.ones(3, 4)
    weight[1, 2] = float("nan")
    path = write_checkpoint(tmp_path, weight=weight)
    with pytest.raises(tensorfile.CorruptFileError, match="NaN/inf in weight::w") as err:
        load_checkpoint(path)
    assert "memit" in str(err.value) and "'tuned'" in str(err.value)


def write_stats(folder):
    path = folder / "layer_4.safetensors"
    tensorfile.save(path, {"mom2": torch.eye(4) * 2.0, "count": torch.tensor(100)}, {"layer": 4})
    return path


def test_layer_statistics_load_back_and_a_flipped_byte_is_refused(tmp_path):
    path = write_stats(tmp_path)
    assert torch.equal(load_layer_stats(path)["mom2"], torch.eye(4) * 2.0)
    data = bytearray(path.read_bytes())
    data[-20] ^= 0x01  # a byte of mom2 (count, 8 bytes, comes last)
    path.write_bytes(bytes(data))
    with pytest.raises(tensorfile.CorruptFileError, match="checksum") as err:
        load_layer_stats(path)
    assert str(path) in str(err.value) and f"--forcerun {tmp_path}" in str(err.value)


def test_truncated_layer_statistics_are_refused_naming_the_file(tmp_path):
    path = write_stats(tmp_path)
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(tensorfile.CorruptFileError, match="truncated") as err:
        load_layer_stats(path)
    assert str(path) in str(err.value) and "layer_stats" in str(err.value)


def test_stale_temporaries_of_an_output_are_removed_when_its_command_starts(tmp_path):
    ckpt = write_checkpoint(tmp_path)
    out = tmp_path / "norms" / "memit.csv"
    out.parent.mkdir()
    stale = [out.parent / ".memit.csv.k1ll3d.tmp", out.parent / ".memit.json.x2.tmp"]
    kept = [out.parent / ".memit_long.csv.abc.tmp", out.parent / "memit.txt"]
    for f in stale + kept:
        f.write_text("half written")
    main(["norms", "--checkpoint", str(ckpt), "--out", str(out)])
    assert out.read_text().startswith("edit,")
    assert [f.exists() for f in stale] == [False, False]
    assert [f.exists() for f in kept] == [True, True]


def test_stale_checkpoint_temporaries_are_found_beside_the_output(tmp_path):
    out = tmp_path / "step_2.safetensors"
    stale = [tmp_path / ".step_2.safetensors.ab12.safetensors", tmp_path / ".step_2.json.cd34.tmp"]
    other = [tmp_path / ".step_20.safetensors.ef56.safetensors", tmp_path / "step_1.safetensors"]
    for f in stale + other:
        f.write_bytes(b"x")
    assert atomic.remove_stale_temporaries(out) == sorted(stale)
    assert all(f.exists() for f in other) and not any(f.exists() for f in stale)
