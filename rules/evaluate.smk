def _edit_metrics_args():
    """`evaluation:` config as `seqedit edit-metrics` options, checked here so that a bad value stops the workflow
    with the key's name before any job runs."""
    from seqedit.evaluation.cli import EvalOptions, check_protocol

    ev = config.get("evaluation", {}) or {}
    flu, mq = ev.get("fluency", {}) or {}, ev.get("mquake", {}) or {}
    check_protocol(ev.get("protocol", "sequential"))
    if ev.get("protocol") == "immediate" and not ev.get("immediate_during_edit", True):
        raise ValueError("config evaluation.protocol: 'immediate' needs the records logged while editing, but "
                         "evaluation.immediate_during_edit is false")
    d = EvalOptions()
    opts = EvalOptions(flu.get("n_prompts", d.fluency_prompts), flu.get("max_new_tokens", d.fluency_tokens),
                       mq.get("max_new_tokens", d.mquake_tokens), mq.get("n_fewshot", d.mquake_fewshot),
                       mq.get("match", d.mquake_match), SEED)
    opts.check()
    return (f"--protocol {ev.get('protocol', 'sequential')} --fluency-prompts {opts.fluency_prompts} "
            f"--fluency-tokens {opts.fluency_tokens} --mquake-tokens {opts.mquake_tokens} "
            f"--mquake-fewshot {opts.mquake_fewshot} --mquake-match {opts.mquake_match} --seed {opts.seed}")


EDIT_METRICS_ARGS = _edit_metrics_args()


rule edit_metrics:
    """Edit metrics after k edits: Efficacy / Paraphrase / Specificity in both protocols (`evaluation.protocol`
    picks the top-level one), ROME's CounterFact metrics and fluency, MQuAKE multi-/single-hop accuracy."""
    input:
        model="resources/models/{model}",
        requests="results/data/{dataset}.jsonl",
        weights="results/edits/{model}/{dataset}/{method}/step_{step}.safetensors",
        meta="results/edits/{model}/{dataset}/{method}/step_{step}.json",
    output:
        "results/metrics/{model}/{dataset}/{method}/step_{step}.json",
    params:
        evaluation=EDIT_METRICS_ARGS,
        dtype=lambda w: model_dtype(w.model),
    threads: THREADS["edit"]
    log:
        "logs/edit_metrics/{model}/{dataset}/{method}/step_{step}.log",
    benchmark:
        "benchmarks/rules/edit_metrics/{model}/{dataset}/{method}/step_{step}.tsv"
    resources:
        **rule_resources("gpu_rules", "edit_metrics"),
    conda:
        "../envs/seqedit.yaml"
    shell:
        "OMP_NUM_THREADS={threads} {SEQEDIT} edit-metrics --model-dir {input.model} --checkpoint {input.weights} "
        "--requests {input.requests} {params.evaluation} --dtype {params.dtype} --device {DEVICE} "
        "--out {output} > {log} 2>&1"


DOWNSTREAM_TASKS = json.dumps(config.get("downstream", {}).get("tasks", {}), sort_keys=True)


rule downstream_base:
    """lm-eval on the unedited model (0 edits)."""
    input:
        model="resources/models/{model}",
    output:
        "results/downstream/{model}/base.json",
    params:
        tasks=DOWNSTREAM_TASKS,
        mirror=MIRROR_ARG,
        batch=config.get("downstream", {}).get("batch_size", 8),
        dtype=lambda w: model_dtype(w.model),
    threads: THREADS["downstream"]
    log:
        "logs/downstream/{model}/base.log",
    benchmark:
        "benchmarks/rules/downstream/{model}/base.tsv"
    resources:
        **rule_resources("gpu_rules", "downstream_base"),
    conda:
        "../envs/seqedit.yaml"
    shell:
        "OMP_NUM_THREADS={threads} {SEQEDIT} downstream --model-dir {input.model} --tasks-json '{params.tasks}' "
        "{params.mirror} --work-dir work/lm_eval --batch-size {params.batch} --dtype {params.dtype} "
        "--device {DEVICE} --out {output} > {log} 2>&1"


rule downstream:
    """lm-eval on a checkpoint: the base model is loaded once and the checkpoint applied in memory."""
    input:
        model="resources/models/{model}",
        weights="results/edits/{model}/{dataset}/{method}/step_{step}.safetensors",
        meta="results/edits/{model}/{dataset}/{method}/step_{step}.json",
    output:
        "results/downstream/{model}/{dataset}/{method}/step_{step}.json",
    params:
        tasks=DOWNSTREAM_TASKS,
        mirror=MIRROR_ARG,
        batch=config.get("downstream", {}).get("batch_size", 8),
        dtype=lambda w: model_dtype(w.model),
    threads: THREADS["downstream"]
    log:
        "logs/downstream/{model}/{dataset}/{method}/step_{step}.log",
    benchmark:
        "benchmarks/rules/downstream/{model}/{dataset}/{method}/step_{step}.tsv"
    resources:
        **rule_resources("gpu_rules", "downstream"),
    conda:
        "../envs/seqedit.yaml"
    shell:
        "OMP_NUM_THREADS={threads} {SEQEDIT} downstream --model-dir {input.model} --checkpoint {input.weights} "
        "--tasks-json '{params.tasks}' {params.mirror} --work-dir work/lm_eval --batch-size {params.batch} "
        "--dtype {params.dtype} --device {DEVICE} --out {output} > {log} 2>&1"
