# Shared helpers: configuration checks against the registries, and the file layout.
import json
import os
import shutil
import sys
from pathlib import Path

import seqedit.mirror as seqedit_mirror
import seqedit.mirror_keys as mirror_keys
import seqedit.model_keys as model_keys

from seqedit.data.registry import CORPORA
from seqedit.data.registry import DATASETS
from seqedit.methods.catalog import CATALOG, method_entry
from seqedit.methods.hparams import check_required, load_hparams
from seqedit.models.registry import MODELS
from seqedit.report import FIGURES, TABLES, figure_outputs, table_outputs


def _put_seqedit_on_path():
    """Rules call `seqedit` by name (no untracked variable in the shell commands): the `seqedit` beside the Python
    running Snakemake comes first on PATH; inside a conda-deployed env the env's own `seqedit` comes before it."""
    beside = Path(sys.executable).parent
    if (beside / "seqedit").exists():
        os.environ.update(PATH=f"{beside}{os.pathsep}{os.environ.get('PATH', '')}")  # set, not read: no envvars
    elif shutil.which("seqedit") is None:
        raise RuntimeError(
            f"no `seqedit` command beside {sys.executable} nor on PATH: install the package "
            "(`make install` or `pip install -e .`)"
        )


_put_seqedit_on_path()


def workdir_path(path):
    """`path` relative to the working directory when it lies inside it, else absolute: input paths that Snakemake
    records must not name the folder, or a run folder copied or moved elsewhere plans every job again ("set of input
    files has changed"; before, the hparams files' absolute paths did that to every edit)."""
    resolved, workdir = Path(path).resolve(), Path.cwd().resolve()
    return resolved.relative_to(workdir) if resolved.is_relative_to(workdir) else resolved


# the config files whose hashes the report records, in the order given (a later one's values win, as in Snakemake)
CONFIG_FILE = " ".join(str(workdir_path(f)) for f in workflow.configfiles) if workflow.configfiles else "config.yaml"
HPARAMS_DIR = Path(config.get("hparams_dir") or Path(workflow.basedir) / "config" / "hparams").resolve()


def _check_config():
    for model in config["models"]:
        if model not in MODELS and not config["models"][model].get("path"):
            raise ValueError(f"config models: unknown model {model!r}; known: {', '.join(sorted(MODELS))}")
    for dataset, block in config["datasets"].items():
        source = block.get("dataset", dataset)
        if source not in DATASETS:
            where = f"datasets.{dataset}.dataset" if "dataset" in block else "datasets"
            raise ValueError(f"config {where}: unknown dataset {source!r}; known: {', '.join(sorted(DATASETS))}")
        for model in block.get("models", []):
            if model not in config["models"]:
                raise ValueError(
                    f"config datasets.{dataset}.models: {model!r} is not in config models "
                    f"({', '.join(config['models'])})"
                )
    for method in config["methods"]:
        if method not in CATALOG:
            raise ValueError(f"config methods: unknown method {method!r}; known: {', '.join(sorted(CATALOG))}")
        hp_file = HPARAMS_DIR / f"{method}.yaml"
        for model in config["models"]:  # the file's schema (an unknown key names it), the set, the required keys
            check_required(hp_file, model, config.get("hparams_set", "tuned"), method)
    if config["stats"]["corpus"] not in CORPORA and not config["stats"].get("path"):
        raise ValueError(
            f"config stats.corpus: unknown corpus {config['stats']['corpus']!r}; "
            f"known: {', '.join(sorted(CORPORA))}"
        )
    for dataset, block in config["datasets"].items():
        key = f"datasets.{dataset}.checkpoints" if "checkpoints" in block else "checkpoints"
        steps = block.get("checkpoints", config["checkpoints"])
        if steps != sorted(set(steps)):
            raise ValueError(f"config {key} must be increasing and distinct, got {steps}")
        if steps[-1] > block["n_requests"]:
            raise ValueError(
                f"config {key}: last checkpoint {steps[-1]} exceeds "
                f"datasets.{dataset}.n_requests = {block['n_requests']}"
            )
        for method in block.get("methods", []):
            if method not in config["methods"]:
                raise ValueError(
                    f"config datasets.{dataset}.methods: {method!r} is not in config methods "
                    f"({', '.join(config['methods'])})"
                )
    for task in config.get("downstream", {}).get("tasks", {}):
        from seqedit.downstream.specs import TASKS

        if task not in TASKS:
            raise ValueError(f"config downstream.tasks: unknown task {task!r}; known: {', '.join(TASKS)}")


_check_config()

MODELS_CFG = config["models"]
DATASETS_CFG = config["datasets"]
METHODS_CFG = config["methods"]
STEPS = config["checkpoints"]  # default checkpoints; a dataset may override them (steps_for)
HPARAMS_SET = config.get("hparams_set", "tuned")
DEVICE = config.get("device", "auto")
CPU_MATMUL = config.get("cpu_matmul", "onednn")  # seqedit.models.cpu_matmul: products differ at float round-off
SEED = config.get("seed", 0)
THREADS = {"edit": 1, "downstream": 1, "stats": 2, **config.get("threads", {})}
# the mirror is a location: jobs read it from $SEQEDIT_MIRROR_DIR; rules track the content of the files they read
MIRROR = seqedit_mirror.export(config.get("data_mirror"))
# so is a local model (models.<m>.path): jobs read it from $SEQEDIT_MODEL_PATHS, the model rule tracks the content
# key of its files (seqedit.model_keys); without a path there is no key and nothing changes
MODEL_KEYS = model_keys.export({m: block.get("path") for m, block in MODELS_CFG.items()})


def hparams(method, model):
    """The values of the configured set that determine the result: without the file's `compute:` block (how fast,
    not what; `seqedit edit` merges it in), so changing that block reruns nothing."""
    return load_hparams(HPARAMS_DIR / f"{method}.yaml", model, HPARAMS_SET, method=method, with_compute=False)


def stats_layers(model):
    """Union of the layers whose statistics the configured methods read on this model (one pass serves all)."""
    return sorted({layer for m in METHODS_CFG for layer in method_entry(m).stats_layers(hparams(m, model))})


def stats_forward_dtype(model):
    """dtype of the forward pass that collects the statistics (`stats.model_dtype`, else the model's dtype)."""
    return config["stats"].get("model_dtype") or model_dtype(model)


def stats_key(model):
    """Cache key: corpus (named by content), number of tokens, forward dtype and stored dtype."""
    s = config["stats"]
    docs = f"-{s['n_samples']}doc" if s.get("n_samples") else ""  # a document cap (paper: 100,000 articles)
    return f"{s['corpus']}{docs}-{s['n_tokens']}tok-fwd{stats_forward_dtype(model)}-{s.get('dtype', 'float32')}"


def precomputed_stats_dir(model):
    """`stats.path`: folder of precomputed `layer_{L}.safetensors`; `{model}` in it is replaced, else `<path>/<model>`."""
    path = config["stats"].get("path")
    if not path:
        return None
    path = str(path)
    return str(workdir_path(path.format(model=model) if "{model}" in path else Path(path) / model))


def stats_dir(model):
    return precomputed_stats_dir(model) or f"results/stats/{model}/{stats_key(model)}"


def model_dtype(model):
    return MODELS_CFG[model].get("dtype", "float32")


def steps_for(dataset):
    """Checkpoints (edit counts) of one dataset: `datasets.<name>.checkpoints`, else the global `checkpoints`."""
    return DATASETS_CFG[dataset].get("checkpoints", STEPS)


def methods_for(dataset):
    """Methods run on one dataset: `datasets.<name>.methods`, else the global `methods`."""
    return DATASETS_CFG[dataset].get("methods", METHODS_CFG)


def previous_step(step, dataset):
    step = int(step)
    steps = steps_for(dataset)
    if step not in steps:
        raise ValueError(f"step {step} is not a configured checkpoint of {dataset} ({steps})")
    i = steps.index(step)
    return steps[i - 1] if i > 0 else None


def ckpt(model, dataset, method, step):
    return f"results/edits/{model}/{dataset}/{method}/step_{step}.safetensors"


def source_dataset(dataset):
    """Registry dataset behind a config entry: `datasets.<name>.dataset`, else the entry's own name (so one dataset
    can run twice, e.g. zsRE to 10,000 edits with D4S only beside the main zsRE run)."""
    return DATASETS_CFG[dataset].get("dataset", dataset)


def models_for(dataset):
    """Models run on one dataset: `datasets.<name>.models`, else every configured model."""
    return DATASETS_CFG[dataset].get("models", list(MODELS_CFG))


def runs():
    return [(mo, d, me) for d in DATASETS_CFG for mo in models_for(d) for me in methods_for(d)]


# which rules take which resource class (config `resources.gpu_rules` / `resources.cpu_rules`)
RESOURCE_CLASSES = {
    "gpu_rules": ("layer_stats", "edit", "edit_metrics", "edit_metrics_base", "downstream_base", "downstream"),
    "cpu_rules": (
        "model",
        "download_data",
        "prepare_data",
        "corpus",
        "norms",
        "reuse_edits",
        "reuse_general_perplexity",
        "report_figures_tables",
    ),
}


def rule_resources(kind, name):
    """Resources of one rule: `resources.<kind>` (gpu_rules / cpu_rules), then `resources.rules.<rule>` over it.
    cpus_per_task follows the rule's threads unless set; gpu and gpu_model only go with gpu > 0."""
    assert name in RESOURCE_CLASSES[kind], (kind, name)
    block = config.get("resources", {})
    res = {**block.get(kind, {}), **block.get("rules", {}).get(name, {})}
    res = {k: v for k, v in res.items() if v is not None}
    res.setdefault("cpus_per_task", lambda wildcards, threads: threads)
    gpu_partition = os.environ.get("SEQEDIT_SLURM_GPU_PARTITION")  # optional, profiles/slurm
    if kind == "gpu_rules" and gpu_partition:
        res.setdefault("slurm_partition", gpu_partition)
    if not res.get("gpu"):
        res.pop("gpu", None)
        res.pop("gpu_model", None)
    return res


def _check_resources():
    known = [r for rules in RESOURCE_CLASSES.values() for r in rules]
    for name in config.get("resources", {}).get("rules", {}):
        if name not in known:
            raise ValueError(f"config resources.rules: unknown name {name!r}; known rules: {', '.join(known)}")


_check_resources()


def _check_precomputed_stats():
    """With `stats.path` no layer_stats job runs: every layer file the methods need must be there."""
    for model in MODELS_CFG:
        folder = precomputed_stats_dir(model)
        if folder is None:
            return
        missing = [
            f"layer_{layer}.safetensors"
            for layer in stats_layers(model)
            if not (Path(folder) / f"layer_{layer}.safetensors").exists()
        ]
        if missing:
            raise ValueError(
                f"config stats.path: precomputed statistics for model {model!r} missing in {folder}: "
                f"{', '.join(missing)} (needed for layers {stats_layers(model)} of methods "
                f"{', '.join(METHODS_CFG)}); unset stats.path to compute them"
            )


_check_precomputed_stats()


def all_outputs():
    out = []
    for model in MODELS_CFG:
        out += [str(p) for p in figure_outputs(f"results/figures/{model}")]
        out += [str(p) for p in table_outputs(f"results/tables/{model}")]
    return out
