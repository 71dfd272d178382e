"""Configuration errors name the key, model, method or dataset at fault (checked through `snakemake -n`)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def dry_run(tmp_path, **changes):
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    for key, value in changes.items():
        cfg[key] = value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return subprocess.run(SNAKEMAKE + ["-n", "--quiet", "--configfile", str(path), "-d", str(tmp_path),
                                       "-s", str(ROOT / "Snakefile")], capture_output=True, text=True, cwd=ROOT)


def test_default_config_builds_the_dag(tmp_path):
    res = dry_run(tmp_path)
    assert res.returncode == 0, res.stderr + res.stdout


@pytest.mark.parametrize("changes,needle", [
    ({"methods": ["rome", "romee"]}, "unknown method 'romee'"),
    ({"models": {"smollm3": {"dtype": "float32"}}}, "unknown model 'smollm3'"),
    ({"datasets": {"zsrE": {"n_requests": 3}}}, "unknown dataset 'zsrE'"),
    ({"checkpointz": [1, 2]}, "checkpointz"),
    ({"checkpoints": [10, 20, 40]}, "n_requests"),
    ({"checkpoints": [20, 10]}, "increasing"),
    ({"datasets": {"zsre": {"n_requests": 8, "checkpoints": [4, 9]}}}, "datasets.zsre.checkpoints"),
    ({"datasets": {"zsre": {"n_requests": 8, "checkpoints": [4, 8], "methods": ["pmett"]}}},
     "datasets.zsre.methods: 'pmett'"),
    ({"datasets": {"zsre_long": {"dataset": "zsrE", "n_requests": 8, "checkpoints": [8]}}},
     "datasets.zsre_long.dataset: unknown dataset 'zsrE'"),
    ({"datasets": {"zsre": {"n_requests": 8, "checkpoints": [8], "models": ["gpt-j-6b"]}}},
     "datasets.zsre.models: 'gpt-j-6b'"),
    ({"datasets": {"zsre": {"n_requests": 8, "checkpoints": [8], "methods": ["rome"], "downstream_methods": ["memit"]}}},
     "datasets.zsre.downstream_methods: ['memit'] are not methods of zsre (['rome'])"),
    # a typo under resources was passed on to the executor as an unknown resource
    ({"resources": {"gpu_rules": {"gpu": 0, "mem_mbb": 8000}}}, "mem_mbb"),
    # a misspelled resource class or rule name (the schema and _check_resources refuse it before any job)
    ({"resources": {"gpu_rulez": {"gpu": 1}}}, "'gpu_rulez' was unexpected"),
    ({"resources": {"rules": {"edt": {"mem_mb": 8000}}}}, "config resources.rules: unknown name 'edt'"),
])
def test_bad_config_is_an_error_that_names_it(tmp_path, changes, needle):
    res = dry_run(tmp_path, **changes)
    assert res.returncode != 0
    assert needle in res.stderr + res.stdout


def test_a_dataset_can_override_checkpoints_and_methods(tmp_path):
    methods = yaml.safe_load((ROOT / "config.yaml").read_text())["methods"]
    datasets = {"zsre": {"n_requests": 6, "checkpoints": [3, 6]},
                "counterfact": {"n_requests": 4, "checkpoints": [4], "methods": [methods[0]]}}
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["datasets"] = datasets
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = subprocess.run(SNAKEMAKE + ["-n", "--configfile", str(path), "-d", str(tmp_path), "-s",
                                      str(ROOT / "Snakefile")], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr + res.stdout
    counts = dict(line.split() for line in res.stdout.split("Job stats:")[1].splitlines()[3:]
                  if len(line.split()) == 2 and line.split()[1].isdigit())
    assert int(counts["edit"]) == 2 * len(methods) + 1
    assert int(counts["norms"]) == len(methods) + 1


@pytest.mark.parametrize("changes,needle", [
    ({"datasets": {"zsre": {"n_requests": 3.0}}}, "datasets.zsre.n_requests: 3.0 is not an integer (write 3)"),
    ({"checkpoints": [1, 2.0]}, "checkpoints[1]: 2.0 is not an integer (write 2)"),
    ({"stats": {"corpus": "wikitext2-test", "n_tokens": 1000.0}}, "stats.n_tokens: 1000.0 is not an integer"),
    ({"downstream": {"tasks": {"winogrande": {"limit": 2.0}}}}, "downstream.tasks.winogrande.limit: 2.0"),
    ({"device": "cdua"}, "instance['device']"),
])
def test_a_float_integer_or_unknown_device_is_refused_before_any_job(tmp_path, changes, needle):
    res = dry_run(tmp_path, **{"datasets": {"zsre": {"n_requests": 3}}, "checkpoints": [1, 2], **changes})
    assert res.returncode != 0
    assert needle in res.stderr + res.stdout


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1"])
def test_a_known_device_is_accepted(tmp_path, device):
    res = dry_run(tmp_path, datasets={"zsre": {"n_requests": 3}}, checkpoints=[1, 2], methods=["rome"], device=device)
    assert res.returncode == 0, res.stderr[-3000:]


def test_a_hparams_file_missing_a_required_key_names_file_and_key(tmp_path):
    hp_dir = tmp_path / "hparams"
    hp_dir.mkdir()
    from seqedit.methods.hparams import load_hparams

    hp = load_hparams(ROOT / "config" / "hparams" / "rome.yaml", "smollm2-135m", "tuned")
    del hp["layers"]
    (hp_dir / "rome.yaml").write_text(yaml.safe_dump({"smollm2-135m": {"tuned": hp}}))
    res = dry_run(tmp_path, methods=["rome"], hparams_dir=str(hp_dir))
    assert res.returncode != 0
    assert f"{hp_dir / 'rome.yaml'}: model 'smollm2-135m', set 'tuned' lacks the hyperparameters layers" in \
        res.stderr + res.stdout


def test_a_misspelled_hparams_key_names_file_and_key(tmp_path):
    hp_dir = tmp_path / "hparams"
    hp_dir.mkdir()
    from seqedit.methods.hparams import load_hparams

    hp = load_hparams(ROOT / "config" / "hparams" / "rome.yaml", "smollm2-135m", "tuned")
    hp["kl_facter"] = hp.pop("kl_factor")
    (hp_dir / "rome.yaml").write_text(yaml.safe_dump({"smollm2-135m": {"tuned": hp}}))
    res = dry_run(tmp_path, methods=["rome"], hparams_dir=str(hp_dir))
    assert res.returncode != 0
    assert (f"{hp_dir / 'rome.yaml'}: model 'smollm2-135m', set 'tuned': unknown hyperparameter 'kl_facter' for "
            "method rome (did you mean 'kl_factor'?)") in res.stderr + res.stdout


def test_a_dataset_runs_lm_eval_on_the_methods_it_names(tmp_path):
    """`datasets.<name>.downstream_methods`: lm-eval on those methods' checkpoints only (the findings config: the
    methods C6 compares), every method's chain, metrics and perplexity as before."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["datasets"] = {"zsre": {"n_requests": 6, "checkpoints": [3, 6], "downstream": [6],
                                "downstream_methods": ["rome", "d4s"]}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = subprocess.run(SNAKEMAKE + ["-n", "--configfile", str(path), "-d", str(tmp_path), "-s",
                                      str(ROOT / "Snakefile")], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr + res.stdout
    planned = sorted(set(re.findall(r"output: results/downstream/smollm2-135m/zsre/(\w+)/step_(\d+).json", res.stdout)))
    assert planned == [("d4s", "6"), ("rome", "6")]
    assert "results/edits/smollm2-135m/zsre/memit/step_6.safetensors" in res.stdout  # still edited
