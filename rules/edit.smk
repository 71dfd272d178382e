rule edit:
    """Sequential editing from the previous checkpoint (or the base model) up to `step` edits."""
    input:
        unpack(edit_inputs),
    output:
        weights="results/edits/{model}/{dataset}/{method}/step_{step}.safetensors",
        meta="results/edits/{model}/{dataset}/{method}/step_{step}.json",
    log:
        "logs/edit/{model}/{dataset}/{method}/step_{step}.log",
    benchmark:
        "benchmarks/rules/edit/{model}/{dataset}/{method}/step_{step}.tsv"
    wildcard_constraints:
        step=r"\d+",
        dataset=EDITED_DATASETS,  # an entry with `edits_from` takes its checkpoints from rule reuse_edits
    priority: 1  # a ready edit first: long chains start early, the evaluations fill the cores at the end
    conda:
        "../envs/seqedit.yaml"
    threads: THREADS["edit"]
    resources:
        **rule_resources("gpu_rules", "edit"),
    params:
        resume=lambda w, input: f"--resume {input.previous}" if "previous" in input.keys() else "",
        dtype=lambda w: model_dtype(w.model),
        immediate=(
            "" if (config.get("evaluation", {}) or {}).get("immediate_during_edit", True) else "--no-immediate-eval"
        ),
        stats=lambda w, input: f"--stats-dir {input.stats}" if "stats" in input.keys() else "",
        hparams_set=HPARAMS_SET,
        hparams=hparams_json,  # tracked: the resolved values, not only the file's time stamp
        device=DEVICE,
        cpu_matmul=CPU_MATMUL,
        seed=SEED,
    shell:
        "OMP_NUM_THREADS={threads} seqedit edit --model-dir {input.model} --model-name {wildcards.model} "
        "--requests {input.requests} --dataset {wildcards.dataset} --method {wildcards.method} "
        "--hparams-file {input.hparams} --hparams-set {params.hparams_set} {params.stats} "
        "--n-edits {wildcards.step} {params.resume} --out {output.weights} --dtype {params.dtype} "
        "--device {params.device} --cpu-matmul {params.cpu_matmul} --seed {params.seed} {params.immediate} > {log} 2>&1"


rule reuse_edits:
    """The checkpoint of an entry with `edits_from`: the source entry's after the same number of edits, copied once
    the two request files are checked to make the same edits (MQD's DG form is the CounterFact request itself)."""
    input:
        unpack(reuse_edits_inputs),
    output:
        weights="results/edits/{model}/{dataset}/{method}/step_{step}.safetensors",
        meta="results/edits/{model}/{dataset}/{method}/step_{step}.json",
    log:
        "logs/reuse_edits/{model}/{dataset}/{method}/step_{step}.log",
    benchmark:
        "benchmarks/rules/reuse_edits/{model}/{dataset}/{method}/step_{step}.tsv"
    wildcard_constraints:
        step=r"\d+",
        dataset=REUSED_DATASETS,
    conda:
        "../envs/seqedit.yaml"
    threads: 1
    resources:
        **rule_resources("cpu_rules", "reuse_edits"),
    shell:
        "seqedit reuse-edits --checkpoint {input.weights} --source-requests {input.source_requests} "
        "--requests {input.requests} --dataset {wildcards.dataset} --out {output.weights} > {log} 2>&1"
