# Input and argument functions of the rules, kept apart from the rule files (`snakemake --lint`).
# Every value that changes a result is an input or a tracked `params:` entry of the jobs it affects, so that
# changing it in the config reruns them (Snakemake's rerun trigger "params").


def edit_inputs(w):
    inputs = {
        "model": f"resources/models/{w.model}",
        "requests": f"results/data/{w.dataset}.jsonl",
        "hparams": str(workdir_path(HPARAMS_DIR / f"{w.method}.yaml")),  # recorded relative: see workdir_path
    }
    if method_entry(w.method).stats_layers(hparams(w.method, w.model)):
        inputs["stats"] = stats_dir(w.model)
    prev = previous_step(w.step, w.dataset)
    if prev is not None:
        inputs["previous"] = ckpt(w.model, w.dataset, w.method, prev)
    return inputs


def hparams_json(w):
    """The resolved hyperparameters of one (method, model) as canonical JSON: a tracked param, so a change of the
    values (or of `hparams_set`) reruns exactly the edit chains it affects."""
    return json.dumps(hparams(w.method, w.model), sort_keys=True)


def edit_metrics_args():
    """`evaluation:` config as `seqedit edit-metrics` options, checked here so that a bad value stops the workflow
    with the key's name before any job runs."""
    from seqedit.evaluation.options import EvalOptions, check_protocol

    ev = config.get("evaluation", {}) or {}
    flu, mq = ev.get("fluency", {}) or {}, ev.get("mquake", {}) or {}
    check_protocol(ev.get("protocol", "sequential"))
    if ev.get("protocol") == "immediate" and not ev.get("immediate_during_edit", True):
        raise ValueError(
            "config evaluation.protocol: 'immediate' needs the records logged while editing, but "
            "evaluation.immediate_during_edit is false"
        )
    d = EvalOptions()
    opts = EvalOptions(
        flu.get("n_prompts", d.fluency_prompts),
        flu.get("max_new_tokens", d.fluency_tokens),
        mq.get("max_new_tokens", d.mquake_tokens),
        mq.get("n_fewshot", d.mquake_fewshot),
        mq.get("match", d.mquake_match),
        SEED,
    )
    opts.check()
    return (
        f"--protocol {ev.get('protocol', 'sequential')} --fluency-prompts {opts.fluency_prompts} "
        f"--fluency-tokens {opts.fluency_tokens} --mquake-tokens {opts.mquake_tokens} "
        f"--mquake-fewshot {opts.mquake_fewshot} --mquake-match {opts.mquake_match} --seed {opts.seed}"
    )


EDIT_METRICS_ARGS = edit_metrics_args()
DOWNSTREAM_TASKS = json.dumps(config.get("downstream", {}).get("tasks", {}), sort_keys=True)
# content of the mirror files the downstream tasks read (tracked; the mirror folder itself is not)
DOWNSTREAM_SOURCE = mirror_keys.tasks_key(MIRROR, config.get("downstream", {}).get("tasks", {}))


def report_inputs(model):
    """Every result file of one model: norms, metrics and downstream of each configured (dataset, method) run
    (datasets may override the checkpoints and the methods: zsRE, CounterFact and MQuAKE alike), and the unedited
    model's edit metrics on each dataset with runs (the 0-edit row of Tables 2 and 3)."""
    runs_ = [(d, m) for (mo, d, m) in runs() if mo == model]
    return {
        **general_perplexity_report_inputs(model),  # held-out perplexity, when configured (general_perplexity_inputs)
        "norms": [f"results/norms/{model}/{d}/{m}.csv" for d, m in runs_],
        "metrics": [f"results/metrics/{model}/{d}/{m}/step_{s}.json" for d, m in runs_ for s in steps_for(d)],
        "base_metrics": [f"results/metrics/{model}/{d}/base.json" for d in dict.fromkeys(d for d, _ in runs_)],
        "downstream": [f"results/downstream/{model}/base.json"]
        + [f"results/downstream/{model}/{d}/{m}/step_{s}.json" for d, m in runs_ for s in downstream_steps(d, m)],
        "edit_meta": edit_meta_files(model),
    }


def edit_meta_files(model):
    """Every checkpoint's metadata of `model` (its tensors' sha256: C8 counts identical chains once)."""
    return [
        f"results/edits/{model}/{d}/{m}/step_{s}.json" for (mo, d, m) in runs() if mo == model for s in steps_for(d)
    ]


def downstream_steps(dataset, method):
    """Checkpoints of `method`'s chain on `dataset` that lm-eval runs on: none for a method outside the entry's
    `downstream_methods`; else `downstream: true` (default) every one, false none, a list those steps (each must be
    a checkpoint)."""
    if method not in downstream_methods(dataset):
        return []
    choice = DATASETS_CFG[dataset].get("downstream", True)
    steps = steps_for(dataset)
    if choice is True:
        return steps
    if choice is False:
        return []
    missing = [s for s in choice if s not in steps]
    if missing:
        raise ValueError(f"config datasets.{dataset}.downstream: {missing} are not checkpoints ({steps})")
    return list(choice)


def downstream_methods(dataset):
    """Methods of `dataset` whose checkpoints lm-eval runs on: `datasets.<name>.downstream_methods` (each one of
    the entry's methods), else every method of the entry."""
    methods = methods_for(dataset)
    chosen = DATASETS_CFG[dataset].get("downstream_methods", methods)
    unknown = [m for m in chosen if m not in methods]
    if unknown:
        raise ValueError(
            f"config datasets.{dataset}.downstream_methods: {unknown} are not methods of {dataset} ({methods})"
        )
    return list(chosen)
