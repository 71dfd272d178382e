"""The paper configuration builds the whole paper as a DAG (`snakemake -n`, offline, seconds).

The job count of every rule is computed from config/paper.yaml and compared with Snakemake's job stats, so a
figure, table, dataset, method or checkpoint cannot drop out silently. Also: GPU rules ask for a GPU with the
config's resources, the statistics' cache key names the corpus version and size, and precomputed statistics
(`stats.path`) replace the layer_stats jobs.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from seqedit.methods import get_method
from seqedit.methods.hparams import load_hparams
from seqedit.report import figure_outputs, table_outputs

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "config" / "paper.yaml"
GPU_RULES = {"layer_stats", "edit", "edit_metrics", "edit_metrics_base", "downstream_base", "downstream",
             "general_perplexity", "general_perplexity_base"}
RESOURCES_OF = {"general_perplexity": "downstream", "general_perplexity_base": "downstream"}  # rules/general_perplexity
CPU_RULES = {"model", "download_data", "download_prompt", "prepare_data", "corpus", "norms", "report_figures_tables"}


def dry_run(config: Path, workdir: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env.pop("SEQEDIT_SLURM_GPU_PARTITION", None)
    cmd = [sys.executable, "-m", "snakemake", "-n", "--cores", "64", "-s", str(ROOT / "Snakefile"),
           "-d", str(workdir), "--configfile", str(config), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


def job_stats(out: str) -> Counter:
    lines = out.splitlines()
    start = max(i for i, line in enumerate(lines) if re.match(r"^job\s+count\s*$", line.strip()))
    counts: Counter = Counter()
    for line in lines[start + 2:]:
        name, n = line.split()
        if name == "total":
            assert int(n) == sum(counts.values())
            return counts
        counts[name] = int(n)
    raise AssertionError("no total line in the job stats")


def jobs(out: str) -> list[dict]:
    """Every job of a non-quiet dry run: rule, outputs, threads, resources."""
    found, job = [], None
    for line in out.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):$", line)
        if m:
            job = {"rule": m.group(1), "output": [], "threads": 1, "resources": {}}
            found.append(job)
        elif job is not None and line.startswith("    "):
            key, _, value = line.strip().partition(": ")
            if key == "output":
                job["output"] = value.split(", ")
            elif key == "threads":
                job["threads"] = int(value)
            elif key == "resources":
                job["resources"] = dict(kv.split("=", 1) for kv in value.split(", "))
    return found


@pytest.fixture(scope="module")
def paper():
    return yaml.safe_load(PAPER.read_text())


@pytest.fixture(scope="module")
def paper_dag(tmp_path_factory):
    work = tmp_path_factory.mktemp("paper")
    # the default config beside it, as in the repository: --configfile must replace it, not be merged into it
    (work / "config.yaml").write_text((ROOT / "config.yaml").read_text())
    res = dry_run(PAPER, work)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout + res.stderr


def steps_for(cfg, dataset):
    return cfg["datasets"][dataset].get("checkpoints", cfg["checkpoints"])


def methods_for(cfg, dataset):
    return cfg["datasets"][dataset].get("methods", cfg["methods"])


def models_for(cfg, dataset):
    return cfg["datasets"][dataset].get("models", list(cfg["models"]))


def has_downstream(cfg, dataset) -> bool:
    """A dataset may opt out of the lm-eval runs of its checkpoints (`datasets.<name>.downstream: false`)."""
    return cfg["datasets"][dataset].get("downstream", True)


def general_perplexity_steps(cfg, dataset) -> list[int]:
    """Checkpoints the held-out perplexity scores (config `general_perplexity`, `datasets.<name>.general_perplexity`)."""
    block = cfg.get("general_perplexity")
    if not block or not block.get("enabled", True):
        return []
    steps = steps_for(cfg, dataset)
    choice = cfg["datasets"][dataset].get("general_perplexity", block.get("checkpoints", "all"))
    return {True: steps, "all": steps, False: [], "last": steps[-1:]}.get(choice, choice) \
        if not isinstance(choice, list) else choice


def needs_stats(cfg, model) -> bool:
    hp_dir = Path(cfg.get("hparams_dir") or ROOT / "config" / "hparams")
    return any(get_method(m).stats_layers(load_hparams(hp_dir / f"{m}.yaml", model, cfg.get("hparams_set", "tuned")))
               for m in cfg["methods"])


def expected_jobs(cfg) -> Counter:
    models, datasets = list(cfg["models"]), list(cfg["datasets"])
    runs = [(mo, d, me) for d in datasets for mo in models_for(cfg, d) for me in methods_for(cfg, d)]
    unedited = {(mo, d) for mo, d, _ in runs}  # edit_metrics_base: the unedited model on each (model, dataset)
    sources = {cfg["datasets"][d].get("dataset", d) for d in datasets}
    checkpoints = sum(len(steps_for(cfg, d)) for _, d, _ in runs)
    downstream = sum(len(steps_for(cfg, d)) for _, d, _ in runs if has_downstream(cfg, d))
    perplexity = sum(len(general_perplexity_steps(cfg, d)) for _, d, _ in runs)
    perplexity_base = len({mo for mo, d, _ in runs if general_perplexity_steps(cfg, d)})
    n_stats = 0 if cfg["stats"].get("path") else sum(needs_stats(cfg, mo) for mo in models)
    # MQuAKE's prompt file (one job, read by the MQuAKE datasets' edit metrics) unless the config asks for ours
    mquake_prompt = (cfg.get("evaluation", {}).get("mquake", {}).get("prompt", "mquake") == "mquake"
                     and any(s.startswith("mquake") for s in sources))
    want = Counter(model=len(models), download_data=len(sources), download_prompt=int(mquake_prompt),
                   prepare_data=len(datasets),
                   corpus=1 if n_stats else 0, layer_stats=n_stats,
                   edit=checkpoints, edit_metrics=checkpoints, edit_metrics_base=len(unedited),
                   downstream=downstream,
                   downstream_base=len(models), norms=len(runs), report_figures_tables=len(models), all=1,
                   general_perplexity=perplexity, general_perplexity_base=perplexity_base)
    return +want  # drop zero counts


def test_paper_config_is_the_papers_setup(paper):
    assert set(paper["models"]) == {"gpt-j-6b", "llama-2-7b"}
    assert paper["hparams_set"] == "reference"
    ds = paper["datasets"]
    assert ds["zsre"]["n_requests"] == 2000  # the authors' code: the first 2000 zsRE records
    # ... of EasyEdit's zsre_mend_train_10000.json; CounterFact as EasyEdit's counterfact-edit.json (the default's)
    assert ds["zsre"]["dataset"] == "zsre_mend_train" and ds["counterfact"]["dataset"] == "counterfact_easyedit"
    assert ds["mquake"]["dataset"] == "mquake_v2"  # the maintainers' corrected MQuAKE-CF-3k (v1 has conflicts)
    # Open LLM Leaderboard v1 shot counts
    shots = {k: v["num_fewshot"] for k, v in paper["downstream"]["tasks"].items()}
    assert shots == {"arc_challenge": 25, "hellaswag": 10, "mmlu": 5, "truthfulqa_mc1": 0, "truthfulqa_mc2": 0,
                     "winogrande": 5, "gsm8k": 5}
    assert {"zsre", "counterfact", "mquake"} <= set(ds)
    for d in ds:
        assert {100, 500, 1000} <= set(steps_for(paper, d)), d
        assert max(steps_for(paper, d)) <= ds[d]["n_requests"]
    assert max(s for d in ("counterfact", "mquake") for s in steps_for(paper, d)) == 3000
    # Table 4: D4S on Llama-2-7B to 10,000 zsRE edits, lm-eval at 0 and at each checkpoint
    long = [d for d in ds if ds[d].get("dataset") == "zsre_mend_train" and max(steps_for(paper, d)) == 10000]
    assert long and methods_for(paper, long[0]) == ["d4s"] and models_for(paper, long[0]) == ["llama-2-7b"]
    assert has_downstream(paper, long[0])
    # the methods each table and figure compares (DESIGN.md section 1)
    assert {"rome", "memit", "pmet", "grace", "d4s"} <= set(methods_for(paper, "zsre"))  # Table 2
    assert {"kn", "rome", "memit"} <= set(methods_for(paper, "zsre"))  # Fig. 2
    assert {"ft", "rome", "memit", "grace", "d4s"} <= set(methods_for(paper, "counterfact"))  # Table 3
    assert {"ft", "rome", "memit", "d4s"} <= set(methods_for(paper, "mquake"))  # Table 3, no GRACE
    assert paper["stats"]["corpus"].startswith("wikipedia-") and paper["stats"]["n_samples"] == 100000
    assert paper["stats"]["dtype"] == "float32"
    # C6's held-out perplexity: an online text (no mirror here), every zsRE checkpoint (Fig. 6c, Table 4)
    assert paper["general_perplexity"]["corpus"] == "wikitext2-train"
    assert general_perplexity_steps(paper, "zsre") == steps_for(paper, "zsre")
    assert general_perplexity_steps(paper, long[0]) == steps_for(paper, long[0])
    assert general_perplexity_steps(paper, "counterfact") == [3000]


def test_paper_dag_job_count_per_rule(paper_dag, paper):
    got, want = job_stats(paper_dag), expected_jobs(paper)
    assert got == want, f"job counts differ: got {dict(got)}, want {dict(want)}"


def test_paper_dag_makes_every_checkpoint_figure_and_table(paper_dag, paper):
    all_jobs = jobs(paper_dag)
    outputs = {o for j in all_jobs for o in j["output"]}
    for mo in paper["models"]:
        for path in figure_outputs(f"results/figures/{mo}") + table_outputs(f"results/tables/{mo}"):
            assert str(path) in outputs, path
        for d in paper["datasets"]:
            if mo not in models_for(paper, d):
                continue
            for me in methods_for(paper, d):
                for s in steps_for(paper, d):
                    want = [f"results/edits/{mo}/{d}/{me}/step_{s}.safetensors",
                            f"results/metrics/{mo}/{d}/{me}/step_{s}.json"]
                    if has_downstream(paper, d):
                        want.append(f"results/downstream/{mo}/{d}/{me}/step_{s}.json")
                    if s in general_perplexity_steps(paper, d):
                        want.append(f"results/perplexity_general/{mo}/{d}/{me}/step_{s}.json")
                    for path in want:
                        assert path in outputs, path
    edits = {o for j in all_jobs if j["rule"] == "edit" for o in j["output"] if o.endswith(".safetensors")}
    assert len(edits) == job_stats(paper_dag)["edit"]


def test_paper_dag_resources_come_from_the_config(paper_dag, paper):
    block = paper["resources"]
    for job in jobs(paper_dag):
        if job["rule"] == "all":
            continue
        res = job["resources"]
        kind = "gpu_rules" if job["rule"] in GPU_RULES else "cpu_rules"
        assert job["rule"] in GPU_RULES | CPU_RULES, job["rule"]
        want = {**block[kind], **block.get("rules", {}).get(RESOURCES_OF.get(job["rule"], job["rule"]), {})}
        assert res.get("gpu") == (str(want["gpu"]) if want.get("gpu") else None), job
        assert res["mem_mb"] == str(want["mem_mb"]) and res["runtime"] == str(want["runtime"]), job
        assert res["cpus_per_task"] == str(job["threads"]), job
    threads = {j["rule"]: j["threads"] for j in jobs(paper_dag)}
    assert threads["edit"] == paper["threads"]["edit"] and threads["downstream"] == paper["threads"]["downstream"]


def test_statistics_cache_key_names_corpus_version_and_size(paper_dag, paper):
    stats_out = [o for j in jobs(paper_dag) if j["rule"] == "layer_stats" for o in j["output"]]
    assert stats_out
    for out in stats_out:
        assert f"/{paper['stats']['corpus']}-{paper['stats']['n_samples']}doc-" in out, out


def _default_with(tmp_path: Path, **changes) -> Path:
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg.update(changes)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_precomputed_statistics_replace_layer_stats(tmp_path):
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    model = next(iter(cfg["models"]))
    hp_dir = ROOT / "config" / "hparams"
    layers = sorted({layer for m in cfg["methods"]
                     for layer in get_method(m).stats_layers(load_hparams(hp_dir / f"{m}.yaml", model,
                                                                          cfg["hparams_set"]))})
    assert layers
    folder = tmp_path / "stats" / model
    folder.mkdir(parents=True)
    stats = dict(cfg["stats"], path=str(tmp_path / "stats"))
    config = _default_with(tmp_path, stats=stats)

    # a missing layer file is an error that names it, before anything runs
    for layer in layers[1:]:
        (folder / f"layer_{layer}.safetensors").write_bytes(b"stub")
    res = dry_run(config, tmp_path, "--quiet", "rules")
    assert res.returncode != 0
    assert "stats.path" in res.stderr + res.stdout and f"layer_{layers[0]}.safetensors" in res.stderr + res.stdout

    # all present: no corpus or layer_stats job; edits read the folder
    (folder / f"layer_{layers[0]}.safetensors").write_bytes(b"stub")
    res = dry_run(config, tmp_path)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    counts = job_stats(out)
    assert "layer_stats" not in counts and "corpus" not in counts and counts["edit"] > 0
    # the folder lies inside the run folder (tmp_path): named relative to it, so a moved run plans nothing again
    assert f"stats/{model}" in out and str(folder.resolve()) not in out

    # a {model} placeholder points at the same folder
    stats["path"] = str(tmp_path / "stats" / "{model}")
    res = dry_run(_default_with(tmp_path, stats=stats), tmp_path, "--quiet", "rules")
    assert res.returncode == 0 and "layer_stats" not in job_stats(res.stdout + res.stderr)


def test_unknown_rule_in_resources_is_an_error(tmp_path):
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    resources = dict(cfg["resources"], rules={"edti": {"runtime": 5}})
    res = dry_run(_default_with(tmp_path, resources=resources), tmp_path, "--quiet", "rules")
    assert res.returncode != 0 and "edti" in res.stderr + res.stdout
