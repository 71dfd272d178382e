# Shared helpers: configuration checks against the registries, and the file layout.
import json
import shutil
import sys
from pathlib import Path

import yaml

from seqedit.data.registry import CORPORA
from seqedit.data.registry import DATASETS
from seqedit.methods import available_methods
from seqedit.models.registry import MODELS
from seqedit.report import FIGURES, TABLES, figure_outputs, table_outputs

def _seqedit_command():
    """`seqedit` inside a conda-deployed env; else the one beside the Python running Snakemake."""
    methods = getattr(getattr(workflow, "deployment_settings", None), "deployment_method", ()) or ()
    if any("conda" in str(m).lower() for m in methods):
        return "seqedit"
    beside = Path(sys.executable).parent / "seqedit"
    if beside.exists():
        return str(beside)
    return shutil.which("seqedit") or f"{sys.executable} -m seqedit.cli"


SEQEDIT = _seqedit_command()
# the config file whose hash the report records (the last one given wins, as in Snakemake)
CONFIG_FILE = str(Path(list(workflow.configfiles)[-1]).resolve()) if workflow.configfiles else "config.yaml"
HPARAMS_DIR = Path(config.get("hparams_dir") or Path(workflow.basedir) / "config" / "hparams").resolve()
REPORT_CAPTIONS = Path(workflow.basedir) / "rules" / "captions"


def _check_config():
    for model in config["models"]:
        if model not in MODELS and not config["models"][model].get("path"):
            raise ValueError(f"config models: unknown model {model!r}; known: {', '.join(sorted(MODELS))}")
    for dataset in config["datasets"]:
        if dataset not in DATASETS:
            raise ValueError(f"config datasets: unknown dataset {dataset!r}; known: {', '.join(sorted(DATASETS))}")
    known = available_methods()
    for method in config["methods"]:
        if method not in known:
            raise ValueError(f"config methods: unknown method {method!r}; known: {', '.join(known)}")
        hp_file = HPARAMS_DIR / f"{method}.yaml"
        blocks = yaml.safe_load(hp_file.read_text())
        for model in config["models"]:
            if config.get("hparams_set", "tuned") not in blocks.get(model, {}):
                raise ValueError(f"{hp_file}: no hyperparameter set {config.get('hparams_set', 'tuned')!r} "
                                 f"for model {model!r}")
    if config["stats"]["corpus"] not in CORPORA and not config["stats"].get("path"):
        raise ValueError(f"config stats.corpus: unknown corpus {config['stats']['corpus']!r}; "
                         f"known: {', '.join(sorted(CORPORA))}")
    for dataset, block in config["datasets"].items():
        key = f"datasets.{dataset}.checkpoints" if "checkpoints" in block else "checkpoints"
        steps = block.get("checkpoints", config["checkpoints"])
        if steps != sorted(set(steps)):
            raise ValueError(f"config {key} must be increasing and distinct, got {steps}")
        if steps[-1] > block["n_requests"]:
            raise ValueError(f"config {key}: last checkpoint {steps[-1]} exceeds "
                             f"datasets.{dataset}.n_requests = {block['n_requests']}")
        for method in block.get("methods", []):
            if method not in config["methods"]:
                raise ValueError(f"config datasets.{dataset}.methods: {method!r} is not in config methods "
                                 f"({', '.join(config['methods'])})")
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
SEED = config.get("seed", 0)
THREADS = {"edit": 1, "downstream": 1, "stats": 2, **config.get("threads", {})}
MIRROR = config.get("data_mirror")
MIRROR_ARG = f"--mirror {Path(MIRROR).resolve()}" if MIRROR else ""


def hparams(method, model):
    blocks = yaml.safe_load((HPARAMS_DIR / f"{method}.yaml").read_text())
    sets = blocks[model]
    hp = dict(sets[HPARAMS_SET])
    if "base" in hp:
        hp = {**sets[hp.pop("base")], **hp}
    return hp


def stats_layers(model):
    """Union of the layers every configured method edits on this model (one statistics pass serves all)."""
    return sorted({layer for m in METHODS_CFG for layer in hparams(m, model).get("layers", [])})


def stats_key():
    s = config["stats"]
    return f"{s['corpus']}-{s['n_tokens']}tok-{s.get('dtype', 'float32')}"


def stats_dir(model):
    return f"results/stats/{model}/{stats_key()}"


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


def runs():
    return [(mo, d, me) for mo in MODELS_CFG for d in DATASETS_CFG for me in methods_for(d)]


def rule_resources(kind):
    return config.get("resources", {}).get(kind, {})


def all_outputs():
    out = []
    for model in MODELS_CFG:
        out += [str(p) for p in figure_outputs(f"results/figures/{model}")]
        out += [str(p) for p in table_outputs(f"results/tables/{model}")]
    return out
