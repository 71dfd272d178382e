rule edit_metrics:
    """Edit metrics after k edits: Efficacy / Paraphrase / Specificity in both protocols (`evaluation.protocol`
    picks the top-level one), ROME's CounterFact metrics and fluency, MQuAKE multi-/single-hop accuracy."""
    input:
        model="resources/models/{model}",
        requests="results/data/{dataset}.jsonl",
        weights="results/edits/{model}/{dataset}/{method}/step_{step}.safetensors",
        meta="results/edits/{model}/{dataset}/{method}/step_{step}.json",
        prompt=mquake_prompt_input,  # MQuAKE datasets only (rules/mquake_inputs.smk)
    output:
        "results/metrics/{model}/{dataset}/{method}/step_{step}.json",
    log:
        "logs/edit_metrics/{model}/{dataset}/{method}/step_{step}.log",
    benchmark:
        "benchmarks/rules/edit_metrics/{model}/{dataset}/{method}/step_{step}.tsv"
    conda:
        "../envs/seqedit.yaml"
    threads: THREADS["edit"]
    resources:
        **rule_resources("gpu_rules", "edit_metrics"),
    params:
        evaluation=edit_metrics_params,
        dtype=lambda w: model_dtype(w.model),
        device=DEVICE,
        cpu_matmul=CPU_MATMUL,
    shell:
        "OMP_NUM_THREADS={threads} seqedit edit-metrics --model-dir {input.model} --checkpoint {input.weights} "
        "--requests {input.requests} {params.evaluation} --dtype {params.dtype} --device {params.device} "
        "--cpu-matmul {params.cpu_matmul} --out {output} > {log} 2>&1"


rule edit_metrics_base:
    """Edit metrics of the unedited model (0 edits), the reference row of Tables 2 and 3: edit_metrics' code and
    options on the requests of the dataset's longest chain (`seqedit edit-metrics --unedited`)."""
    input:
        model="resources/models/{model}",
        requests="results/data/{dataset}.jsonl",
        prompt=mquake_prompt_input,  # MQuAKE datasets only (rules/mquake_inputs.smk)
    output:
        "results/metrics/{model}/{dataset}/base.json",
    log:
        "logs/edit_metrics/{model}/{dataset}/base.log",
    benchmark:
        "benchmarks/rules/edit_metrics/{model}/{dataset}/base.tsv"
    conda:
        "../envs/seqedit.yaml"
    threads: THREADS["edit"]
    resources:
        **rule_resources("gpu_rules", "edit_metrics_base"),
    params:
        evaluation=edit_metrics_params,  # edit_metrics' options
        n_requests=lambda w: max(steps_for(w.dataset)),
        dtype=lambda w: model_dtype(w.model),
        device=DEVICE,
        cpu_matmul=CPU_MATMUL,
    shell:
        "OMP_NUM_THREADS={threads} seqedit edit-metrics --model-dir {input.model} --unedited "
        "--n-requests {params.n_requests} --model-name {wildcards.model} --dataset {wildcards.dataset} "
        "--requests {input.requests} {params.evaluation} --dtype {params.dtype} --device {params.device} "
        "--cpu-matmul {params.cpu_matmul} --out {output} > {log} 2>&1"


rule downstream_base:
    """lm-eval on the unedited model (0 edits)."""
    input:
        model="resources/models/{model}",
    output:
        "results/downstream/{model}/base.json",
    log:
        "logs/downstream/{model}/base.log",
    benchmark:
        "benchmarks/rules/downstream/{model}/base.tsv"
    conda:
        "../envs/seqedit.yaml"
    threads: THREADS["downstream"]
    resources:
        **rule_resources("gpu_rules", "downstream_base"),
    params:
        tasks=DOWNSTREAM_TASKS,
        source=DOWNSTREAM_SOURCE,
        batch=config.get("downstream", {}).get("batch_size", 8),
        dtype=lambda w: model_dtype(w.model),
        device=DEVICE,
        cpu_matmul=CPU_MATMUL,
    shell:
        "OMP_NUM_THREADS={threads} seqedit downstream --model-dir {input.model} --tasks-json '{params.tasks}' "
        "--work-dir work/lm_eval --batch-size {params.batch} --dtype {params.dtype} "
        "--device {params.device} --cpu-matmul {params.cpu_matmul} --out {output} > {log} 2>&1"


rule downstream:
    """lm-eval on a checkpoint: the base model is loaded once and the checkpoint applied in memory."""
    input:
        model="resources/models/{model}",
        weights="results/edits/{model}/{dataset}/{method}/step_{step}.safetensors",
        meta="results/edits/{model}/{dataset}/{method}/step_{step}.json",
    output:
        "results/downstream/{model}/{dataset}/{method}/step_{step}.json",
    log:
        "logs/downstream/{model}/{dataset}/{method}/step_{step}.log",
    benchmark:
        "benchmarks/rules/downstream/{model}/{dataset}/{method}/step_{step}.tsv"
    conda:
        "../envs/seqedit.yaml"
    threads: THREADS["downstream"]
    resources:
        **rule_resources("gpu_rules", "downstream"),
    params:
        tasks=DOWNSTREAM_TASKS,
        source=DOWNSTREAM_SOURCE,
        batch=config.get("downstream", {}).get("batch_size", 8),
        dtype=lambda w: model_dtype(w.model),
        device=DEVICE,
        cpu_matmul=CPU_MATMUL,
    shell:
        "OMP_NUM_THREADS={threads} seqedit downstream --model-dir {input.model} --checkpoint {input.weights} "
        "--tasks-json '{params.tasks}' --work-dir work/lm_eval --batch-size {params.batch} "
        "--dtype {params.dtype} --device {params.device} --cpu-matmul {params.cpu_matmul} --out {output} > {log} 2>&1"
