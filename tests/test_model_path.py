"""A local model folder (config ``models.<m>.path``) is tracked by its content, not its path: moving it reruns
nothing, changing a weight in place reruns the model and every chain made from it (before, the folder's path string
was the model rule's param: a move reran every chain, a changed weight nothing). Without a path nothing changes."""
from __future__ import annotations

import shutil

import pytest
import yaml

from tiny_workflow import DATASETS, METHODS, STEPS, fixture_model, tiny_config
from touched_run import planned_jobs, snakemake, touch_run

N_EDIT_JOBS = len(DATASETS) * len(METHODS) * len(STEPS)
MODEL = "smollm2-135m"


@pytest.fixture(scope="module")
def touched(tmp_path_factory, data_mirror):
    work = tmp_path_factory.mktemp("model_path")
    model = fixture_model(work / "models" / "first")
    config = tiny_config(work, model, data_mirror)
    touch_run(work, config)
    return work, yaml.safe_load(config.read_text()), model


def with_model(work, cfg, name, folder):
    path = work / f"config_{name}.yaml"
    path.write_text(yaml.safe_dump({**cfg, "models": {MODEL: {"dtype": "float32", "path": str(folder)}}}))
    return planned_jobs(work, path)


def test_a_moved_model_folder_reruns_nothing(touched):
    work, cfg, model = touched
    moved = shutil.copytree(model, work / "models" / "moved")
    jobs = with_model(work, cfg, "moved", moved)
    assert set(jobs) <= {"report_figures_tables", "all", "total"}, jobs  # the report records the new config file


def test_a_changed_file_outside_the_model_reruns_nothing(touched):
    work, cfg, model = touched
    other = shutil.copytree(model, work / "models" / "readme")
    (other / "README.md").write_text("another text\n")
    (other / ".gitattributes").write_text("*.safetensors filter=lfs\n")
    jobs = with_model(work, cfg, "readme", other)
    assert set(jobs) <= {"report_figures_tables", "all", "total"}, jobs


def test_a_weight_changed_in_place_reruns_every_chain(tmp_path, data_mirror):
    model = fixture_model(tmp_path / "model")
    config = tiny_config(tmp_path, model, data_mirror)
    touch_run(tmp_path, config)
    with open(model / "model.safetensors", "ab") as f:  # same folder, same config: other bytes
        f.write(b" ")
    jobs = planned_jobs(tmp_path, config)
    assert jobs.get("model") == 1, jobs
    assert jobs.get("edit") == N_EDIT_JOBS and jobs.get("edit_metrics") == N_EDIT_JOBS, jobs


@pytest.mark.parametrize("name,counts", [("model.safetensors", True), ("config.json", True),
                                         ("tokenizer.json", True), ("tokenizer_config.json", True),
                                         ("README.md", False)])
def test_the_content_key_covers_config_tokenizer_and_weights(tmp_path, name, counts):
    from seqedit.hash_cache import HashCache
    from seqedit.model_keys import content_key

    model = fixture_model(tmp_path / "model")
    cache = HashCache(tmp_path / "cache.json")
    before = content_key(model, cache)
    with open(model / name, "ab") as f:
        f.write(b" ")
    assert (content_key(model, cache) != before) is counts


def test_a_bad_model_path_is_refused_before_any_job(touched, tmp_path):
    work, cfg, model = touched
    (tmp_path / "empty").mkdir()
    for folder, needle in [(tmp_path / "absent", "does not exist"), (tmp_path / "empty", "has no config.json")]:
        path = tmp_path / "bad.yaml"
        path.write_text(yaml.safe_dump({**cfg, "models": {MODEL: {"dtype": "float32", "path": str(folder)}}}))
        res = snakemake(work, path, "-n")
        assert res.returncode != 0 and f"config models.{MODEL}.path: {folder} {needle}" in res.stderr + res.stdout


def test_the_model_folder_is_hashed_once_then_only_stated(touched, monkeypatch):
    """Later parses read the cached sha256 while the files' size, mtime, ctime and inode hold."""
    from seqedit import hash_cache, model_keys

    work, _, model = touched
    monkeypatch.chdir(work)  # the workflow's cache is in its working directory
    cached = hash_cache.HashCache()
    key = model_keys.content_key(model, cached)
    assert cached.hashed == [] and len(cached.entries) >= 4  # every model file came from the parses' cache
    monkeypatch.setattr(hash_cache, "sha256_file", lambda path: pytest.fail(f"{path} hashed again"))
    assert model_keys.content_key(model, hash_cache.HashCache()) == key


def test_without_a_path_the_model_command_is_unchanged(tmp_path, data_mirror):
    """The model rule's command (its params included) without models.<m>.path: what runs already recorded."""
    config = tiny_config(tmp_path, tmp_path / "model", data_mirror)
    cfg = yaml.safe_load(config.read_text())
    cfg["models"] = {MODEL: {"dtype": "float32"}}
    config.write_text(yaml.safe_dump(cfg))
    res = snakemake(tmp_path, config, "-n", "-p", f"resources/models/{MODEL}")
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"seqedit model --name {MODEL} --out resources/models/{MODEL}  > logs/model/{MODEL}.log 2>&1" in res.stdout
    assert not (tmp_path / ".snakemake" / "seqedit").exists()  # nothing hashed



def test_the_model_job_reads_its_folder_from_the_environment_and_checks_its_content(tmp_path, monkeypatch):
    """`seqedit model --path-content KEY` (the command the rule runs): the folder comes from $SEQEDIT_MODEL_PATHS,
    and a folder whose files changed since the workflow was parsed is refused, naming it."""
    import json as json_module

    import seqedit.models.cli as model_cli
    from seqedit.model_keys import ENV, content_key

    model = fixture_model(tmp_path / "model")
    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr(model_cli, "prepare_model", lambda name, out, local_path=None: calls.append(local_path))
    monkeypatch.setenv(ENV, json_module.dumps({MODEL: str(model)}))
    key = content_key(model)
    model_cli.cli("model", ["--name", MODEL, "--out", str(tmp_path / "out"), "--path-content", key])
    assert calls == [str(model.resolve())]
    (model / "model.safetensors").write_bytes(b"other weights")
    with pytest.raises(SystemExit, match=f"the model files in {model.resolve()} changed since the workflow"):
        model_cli.cli("model", ["--name", MODEL, "--out", str(tmp_path / "out"), "--path-content", key])
    monkeypatch.delenv(ENV)
    with pytest.raises(SystemExit, match=rf"no folder for model '{MODEL}' in \${ENV}"):
        model_cli.cli("model", ["--name", MODEL, "--out", str(tmp_path / "out"), "--path-content", key])
