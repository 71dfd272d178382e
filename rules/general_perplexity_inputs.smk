# Input and argument functions of rules/general_perplexity.smk (held-out perplexity, issue 9), kept apart from the
# rules themselves (`snakemake --lint`). Config key `general_perplexity`, absent or not enabled = no jobs and no
# perplexity inputs of the reports; `datasets.<name>.general_perplexity` picks the checkpoints of a dataset.


def _schema_defaults(key):
    """The defaults of config key `key` in config/schema.yaml (one place for them), for the rules' definitions."""
    import yaml

    schema = yaml.safe_load((Path(workflow.basedir) / "config" / "schema.yaml").read_text())
    props = schema["properties"][key]["properties"]
    return {name: sub["default"] for name, sub in props.items() if "default" in sub}


GP_DEFAULTS = _schema_defaults("general_perplexity")
GP_CFG = {**GP_DEFAULTS, **(config.get("general_perplexity") or {})}
GP_ENABLED = bool(config.get("general_perplexity")) and GP_CFG["enabled"]


def general_perplexity_steps(dataset):
    """Checkpoints of `dataset` scored by the held-out perplexity: `datasets.<name>.general_perplexity` true (every
    one), false (none), "last" or a list (each a checkpoint); default `general_perplexity.checkpoints` (all / last).
    Empty when the measure is off."""
    if not GP_ENABLED:
        return []
    steps = steps_for(dataset)
    choice = DATASETS_CFG[dataset].get("general_perplexity", GP_CFG["checkpoints"])
    if choice in (True, "all"):
        return list(steps)
    if choice is False:
        return []
    if choice == "last":
        return [steps[-1]]
    missing = [s for s in choice if s not in steps]
    if missing:
        raise ValueError(f"config datasets.{dataset}.general_perplexity: {missing} are not checkpoints ({steps})")
    return list(choice)


def reuses_general_perplexity(dataset):
    """An entry with `edits_from` whose scored checkpoints are all scored in its source entry too: its checkpoints
    are the source's tensors, so rule reuse_general_perplexity copies the source's results (checked by hash)."""
    source = edits_from(dataset)  # rules/reuse_edits_inputs.smk
    if source is None:
        return False
    theirs = set(general_perplexity_steps(source))
    return bool(theirs) and set(general_perplexity_steps(dataset)) <= theirs


GP_REUSED_DATASETS = _dataset_pattern([d for d in DATASETS_CFG if reuses_general_perplexity(d)])
GP_SCORED_DATASETS = _dataset_pattern([d for d in DATASETS_CFG if not reuses_general_perplexity(d)])


def reuse_general_perplexity_inputs(w):
    source = edits_from(w.dataset)
    return {
        "source_result": f"results/perplexity_general/{w.model}/{source}/{w.method}/step_{w.step}.json",
        "source_weights": ckpt(w.model, source, w.method, w.step),
        "source_meta": ckpt(w.model, source, w.method, w.step).replace(".safetensors", ".json"),
        "weights": ckpt(w.model, w.dataset, w.method, w.step),
        "meta": ckpt(w.model, w.dataset, w.method, w.step).replace(".safetensors", ".json"),
    }


def general_perplexity_files(model):
    """The perplexity files of one model: the base model's, then every configured checkpoint's (none: [])."""
    files = [
        f"results/perplexity_general/{model}/{d}/{m}/step_{s}.json"
        for (mo, d, m) in runs()
        if mo == model
        for s in general_perplexity_steps(d)
    ]
    return [f"results/perplexity_general/{model}/base.json", *files] if files else []


def general_perplexity_report_inputs(model):
    """`{"general_perplexity": files}` for the report rules, `{}` when nothing is configured."""
    files = general_perplexity_files(model)
    return {"general_perplexity": files} if files else {}


def general_perplexity_option(wildcards, input):
    """`--general-perplexity <files>` of a report command, empty when the rule has no such input."""
    if "general_perplexity" not in input.keys():
        return ""
    return "--general-perplexity " + " ".join(input.general_perplexity)


def _check_general_perplexity():
    if not GP_ENABLED:
        return
    if GP_CFG["corpus"] not in CORPORA:
        raise ValueError(
            f"config general_perplexity.corpus: unknown corpus {GP_CFG['corpus']!r}; "
            f"known: {', '.join(sorted(CORPORA))}"
        )
    n, length = GP_CFG["n_tokens"], GP_CFG["block_length"]
    if n < length or n % length:
        raise ValueError(
            f"config general_perplexity: n_tokens ({n}) must be a positive multiple of block_length ({length})"
        )
    for dataset in DATASETS_CFG:
        general_perplexity_steps(dataset)  # a list naming a step that is not a checkpoint stops here


_check_general_perplexity()
# the content of the text the jobs read (the mirror file's sha256, else the hub source): a tracked param
GP_SOURCE = mirror_keys.corpus_key(MIRROR, GP_CFG["corpus"]) if GP_ENABLED else "off"
