"""Downstream evaluation of a (possibly edited) model with the lm-eval library.

One call = one base model load, the checkpoint applied in memory, one ``HFLM`` wrapper around that model instance
and one ``lm_eval.simple_evaluate`` over all requested tasks. Per-task options (``limit``, ``num_fewshot``,
``max_gen_toks``) are set on lm-eval's task objects before the call; per-task limits go through
``simple_evaluate(samples=...)`` (the first ``limit`` documents of each task), since its ``limit`` is global.

Headline metrics per task are in :mod:`seqedit.downstream.specs` (gsm8k: ``exact_match`` under the
``strict-match`` filter; ``flexible-extract`` is kept in ``all_metrics``).
"""
from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path

from .. import atomic
from ..models import matmul_option
from .specs import TASKS, validate_tasks

log = logging.getLogger(__name__)


def setup_caches(work_dir: str | Path, offline: bool = False) -> dict[str, str]:
    """Point Hugging Face's and lm-eval's caches into ``work_dir``; call before ``datasets``/``lm_eval`` load.

    If ``datasets`` was already imported (e.g. in a test session) its cache root is patched as well.
    """
    work_dir = Path(work_dir).resolve()
    hf = work_dir / "hf"
    env = {
        "HF_HOME": str(hf),
        "HF_DATASETS_CACHE": str(hf / "datasets"),
        "HF_HUB_CACHE": str(hf / "hub"),
        "HUGGINGFACE_HUB_CACHE": str(hf / "hub"),
        "HF_MODULES_CACHE": str(hf / "modules"),
        "HF_EVALUATE_CACHE": str(hf / "evaluate"),
        "LM_HARNESS_CACHE_PATH": str(work_dir / "lm_eval_cache"),
    }
    for path in (hf / "datasets", hf / "hub", work_dir / "lm_eval_cache"):
        path.mkdir(parents=True, exist_ok=True)
    os.environ.update(env)
    if offline:  # the mirror needs no network: do not let datasets/hub try (and time out)
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import sys

    if "datasets" in sys.modules:
        import datasets

        datasets.config.HF_DATASETS_CACHE = Path(env["HF_DATASETS_CACHE"])
    return env


def lm_eval_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("lm_eval")


def load_tasks(tasks: dict, work_dir: str | Path, mirror: str | Path | None = None):
    """Build lm-eval task objects for ``tasks`` (validated options).

    Returns ``(task_manager, objects, leaves)``: ``objects[key]`` is the Task (or Group, online mmlu) passed to
    ``simple_evaluate``; ``leaves[key]`` maps leaf task names to Task objects, with options applied.
    """
    from lm_eval.tasks import TaskManager

    if mirror is not None:
        from .offline import write_task_yamls

        yamls = write_task_yamls(list(tasks), mirror, work_dir)
        manager = TaskManager(include_defaults=False)
        specs = {key: str(path) for key, path in yamls.items()}
    else:
        manager = TaskManager()
        specs = {key: TASKS[key].lm_eval_task for key in tasks}

    objects, leaves = {}, {}
    for key, spec in specs.items():
        loaded = manager.load(spec)
        name = TASKS[key].key if mirror is not None else TASKS[key].lm_eval_task
        objects[key] = loaded["groups"][name] if name in loaded["groups"] else loaded["tasks"][name]
        leaves[key] = dict(loaded["tasks"])
        opts = tasks[key]
        for task in leaves[key].values():
            if opts.get("num_fewshot") is not None:
                task.set_config(key="num_fewshot", value=opts["num_fewshot"])
            if opts.get("max_gen_toks") is not None:
                task.set_config(key="generation_kwargs", value={"max_gen_toks": opts["max_gen_toks"]}, update=True)
    return manager, objects, leaves


def _float_or_none(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return None if math.isnan(value) else value


def summarise(results: dict, tasks: dict, leaves: dict, mirror=None) -> dict:
    """lm-eval's results -> ``{key: {metric, value, stderr, num_fewshot, limit, n_samples, all_metrics}}``."""
    out = {}
    for key, opts in tasks.items():
        spec = TASKS[key]
        name = spec.key if mirror is not None else spec.lm_eval_task
        res = results["results"][name]
        metric_key = f"{spec.metric},{spec.filter}"
        if metric_key not in res:
            raise KeyError(f"{key}: lm-eval result has no {metric_key!r}; it has {sorted(res)}")
        all_metrics = {k: _float_or_none(v) for k, v in res.items() if k != "alias" and k != "name"}
        first_leaf = next(iter(leaves[key].values()))
        n_samples = sum(results.get("n-samples", {}).get(leaf, {}).get("effective", 0) for leaf in leaves[key])
        out[key] = {
            "metric": f"{spec.metric}" if spec.filter == "none" else f"{spec.metric} ({spec.filter})",
            "value": _float_or_none(res[metric_key]),
            "stderr": _float_or_none(res.get(f"{spec.metric}_stderr,{spec.filter}")),
            "num_fewshot": int(first_leaf.get_config("num_fewshot") or 0),
            "limit": opts.get("limit"),
            "n_samples": int(n_samples),
            "lm_eval_task": name,
            "data": (spec.offline_label or f"offline mirror sample {spec.file}") if mirror is not None
            else f"lm-eval {spec.lm_eval_task}",
            "all_metrics": all_metrics,
        }
    return out


def evaluate_model(model, tokenizer, tasks: dict, work_dir: str | Path, mirror: str | Path | None = None,
                   batch_size: int = 8, seed: int = 1234, log_samples: bool = False):
    """Run lm-eval once over ``tasks`` on an in-memory model. Returns ``(summary, raw lm-eval results)``."""
    tasks = validate_tasks(tasks)
    setup_caches(work_dir, offline=mirror is not None)
    import lm_eval
    from lm_eval.models.huggingface import HFLM

    manager, objects, leaves = load_tasks(tasks, work_dir, mirror)
    samples = {}
    for key, opts in tasks.items():
        if opts.get("limit") is None:
            continue
        for leaf_name, task in leaves[key].items():
            samples[leaf_name] = list(range(min(opts["limit"], len(task.eval_docs))))
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)
    raw = lm_eval.simple_evaluate(
        model=lm,
        tasks=list(objects.values()),
        task_manager=manager,
        samples=samples or None,
        log_samples=log_samples,
        bootstrap_iters=1000,
        random_seed=seed,
        numpy_random_seed=seed,
        torch_random_seed=seed,
        fewshot_random_seed=seed,
    )
    return summarise(raw, tasks, leaves, mirror), raw


def run_downstream(model_dir: str, tasks: dict, work_dir: str | Path, out: str | Path,
                   checkpoint: str | None = None, mirror: str | None = None, dtype: str = "float32",
                   device: str = "auto", batch_size: int = 8, seed: int = 1234,
                   cpu_matmul: str = matmul_option.DEFAULT) -> dict:
    """Evaluate the base model in ``model_dir`` (with ``checkpoint`` applied in memory) and write ``out``."""
    start = time.time()
    tasks = validate_tasks(tasks)  # fail on a bad task list before loading anything
    setup_caches(work_dir, offline=mirror is not None)
    from ..models.loading import load_model_and_tokenizer

    model, tok = load_model_and_tokenizer(str(model_dir), dtype=dtype, device=device, cpu_matmul=cpu_matmul)
    method, n_edits = None, 0
    if checkpoint:
        from ..methods import apply_checkpoint

        model, meta = apply_checkpoint(model, checkpoint)
        method, n_edits = meta.get("method"), int(meta.get("n_edits", 0))
    summary, _ = evaluate_model(model, tok, tasks, work_dir, mirror=mirror, batch_size=batch_size, seed=seed)
    result = {
        "model_dir": str(model_dir),
        "checkpoint": str(checkpoint) if checkpoint else None,
        "method": method,
        "n_edits": n_edits,
        "tasks": summary,
        "mirror": str(mirror) if mirror else None,
        "dtype": dtype,
        "batch_size": batch_size,
        "seed": seed,
        "lm_eval_version": lm_eval_version(),
        "seconds": round(time.time() - start, 3),
    }
    atomic.write_json(out, result)
    return result
