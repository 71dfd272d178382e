# Input and output functions of rules/perplexity.smk (MQD, target perplexity, the data-perspective report), kept
# apart from the rule file (`snakemake --lint`).

C7_METHODS = ("rome", "memit", "d4s")  # Fig. 3
C8_METHODS = ("kn", "rome", "memit")  # Fig. 2


def is_built_dataset(dataset):
    """A config entry whose registry dataset seqedit builds (MQD) instead of downloading."""
    return DATASETS[source_dataset(dataset)].built_from is not None


def built_dataset_pattern():
    """Wildcard constraint of build_mqd: exactly the config entries of built datasets (none: matches nothing)."""
    return _dataset_pattern([d for d in DATASETS_CFG if is_built_dataset(d)])  # rules/reuse_edits_inputs.smk


def built_dataset_raw(w):
    return f"resources/data/{DATASETS[source_dataset(w.dataset)].built_from}.json"


def configured(methods):
    return [m for m in methods if m in METHODS_CFG]


def data_report_inputs(model):
    """Target perplexity of every dataset of `model`; downstream results of the methods of Fig. 3 and Fig. 2; the
    held-out perplexity files of `model` when configured (rules/general_perplexity_inputs.smk)."""
    datasets = [d for d in DATASETS_CFG if model in models_for(d)]
    wanted = set(C7_METHODS) | set(C8_METHODS)
    return {
        **general_perplexity_report_inputs(model),  # C7/C8 by the held-out perplexity, when configured
        "perplexity": [f"results/perplexity/{model}/{d}.json" for d in datasets],
        "edit_meta": edit_meta_files(model),  # C8 counts identical chains once (mqd_dg = CounterFact's requests)
        "downstream": [f"results/downstream/{model}/base.json"]
        + [
            f"results/downstream/{model}/{d}/{m}/step_{s}.json"
            for d in datasets
            for m in methods_for(d)
            if m in wanted
            for s in downstream_steps(d, m)
        ],
    }


def data_report_outputs(model):
    from seqedit.report.data_perspective import OUTPUT_NAMES

    return [f"results/figures/{model}/{name}" for name in OUTPUT_NAMES["figures"]] + [
        f"results/tables/{model}/{name}" for name in OUTPUT_NAMES["tables"]
    ]


def data_perspective_outputs():
    """The data-perspective report of every model, when the config has an MQD dataset (else nothing)."""
    if not any(is_built_dataset(d) for d in DATASETS_CFG):
        return []
    return [f for model in MODELS_CFG for f in data_report_outputs(model)]
