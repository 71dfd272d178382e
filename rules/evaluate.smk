rule edit_metrics:
    """Efficacy / Paraphrase / Specificity after k edits (sequential protocol: all first k requests)."""
    input:
        model="resources/models/{model}",
        requests="results/data/{dataset}.jsonl",
        weights="results/edits/{model}/{dataset}/{method}/step_{step}.safetensors",
        meta="results/edits/{model}/{dataset}/{method}/step_{step}.json",
    output:
        "results/metrics/{model}/{dataset}/{method}/step_{step}.json",
    params:
        protocol=config.get("evaluation", {}).get("protocol", "sequential"),
        dtype=lambda w: model_dtype(w.model),
    threads: THREADS["edit"]
    log:
        "logs/edit_metrics/{model}/{dataset}/{method}/step_{step}.log",
    benchmark:
        "benchmarks/rules/edit_metrics/{model}/{dataset}/{method}/step_{step}.tsv"
    resources:
        **rule_resources("gpu_rules"),
    conda:
        "../envs/seqedit.yaml"
    shell:
        "OMP_NUM_THREADS={threads} {SEQEDIT} edit-metrics --model-dir {input.model} --checkpoint {input.weights} "
        "--requests {input.requests} --protocol {params.protocol} --dtype {params.dtype} --device {DEVICE} "
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
        **rule_resources("gpu_rules"),
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
        **rule_resources("gpu_rules"),
    conda:
        "../envs/seqedit.yaml"
    shell:
        "OMP_NUM_THREADS={threads} {SEQEDIT} downstream --model-dir {input.model} --checkpoint {input.weights} "
        "--tasks-json '{params.tasks}' {params.mirror} --work-dir work/lm_eval --batch-size {params.batch} "
        "--dtype {params.dtype} --device {DEVICE} --out {output} > {log} 2>&1"
