# Held-out language-modelling perplexity (issue 9): the mean token NLL of fixed blocks of a corpus the edits and the
# layer statistics never saw, on the base model and on the configured checkpoints (config `general_perplexity`).
# Resources: downstream's (`resources.gpu_rules`, then `resources.rules.downstream`), like target_perplexity.


rule general_perplexity_base:
    """Held-out perplexity of the unedited model (0 edits): the reference every checkpoint is paired with."""
    input:
        model="resources/models/{model}",
    output:
        "results/perplexity_general/{model}/base.json",
    log:
        "logs/general_perplexity/{model}/base.log",
    benchmark:
        "benchmarks/rules/general_perplexity/{model}/base.tsv"
    conda:
        "../envs/seqedit.yaml"
    threads: 1
    resources:
        **rule_resources("gpu_rules", "downstream"),
    params:
        corpus=GP_CFG["corpus"],
        source=GP_SOURCE,
        n_tokens=GP_CFG["n_tokens"],
        block_length=GP_CFG["block_length"],
        dtype=lambda w: model_dtype(w.model),
        device=DEVICE,
        cpu_matmul=CPU_MATMUL,
    shell:
        "OMP_NUM_THREADS={threads} seqedit general-perplexity --model-dir {input.model} "
        "--model-name {wildcards.model} --corpus {params.corpus} --n-tokens {params.n_tokens} "
        "--block-length {params.block_length} --dtype {params.dtype} --device {params.device} "
        "--cpu-matmul {params.cpu_matmul} --out {output} > {log} 2>&1"


rule general_perplexity:
    """Held-out perplexity after k edits: the base model is loaded once and the checkpoint applied in memory."""
    input:
        model="resources/models/{model}",
        weights="results/edits/{model}/{dataset}/{method}/step_{step}.safetensors",
        meta="results/edits/{model}/{dataset}/{method}/step_{step}.json",
    output:
        "results/perplexity_general/{model}/{dataset}/{method}/step_{step}.json",
    log:
        "logs/general_perplexity/{model}/{dataset}/{method}/step_{step}.log",
    benchmark:
        "benchmarks/rules/general_perplexity/{model}/{dataset}/{method}/step_{step}.tsv"
    wildcard_constraints:
        step=r"\d+",
        dataset=GP_SCORED_DATASETS,  # an `edits_from` entry takes its source's results (reuse_general_perplexity)
    conda:
        "../envs/seqedit.yaml"
    threads: 1
    resources:
        **rule_resources("gpu_rules", "downstream"),
    params:
        corpus=GP_CFG["corpus"],
        source=GP_SOURCE,
        n_tokens=GP_CFG["n_tokens"],
        block_length=GP_CFG["block_length"],
        dtype=lambda w: model_dtype(w.model),
        device=DEVICE,
        cpu_matmul=CPU_MATMUL,
    shell:
        "OMP_NUM_THREADS={threads} seqedit general-perplexity --model-dir {input.model} "
        "--checkpoint {input.weights} --corpus {params.corpus} --n-tokens {params.n_tokens} "
        "--block-length {params.block_length} --dtype {params.dtype} --device {params.device} "
        "--cpu-matmul {params.cpu_matmul} --out {output} > {log} 2>&1"


rule reuse_general_perplexity:
    """Held-out perplexity of an `edits_from` entry's checkpoint: the source entry's result for the same tensors
    (checked by tensors_sha256), copied instead of scoring the same weights again."""
    input:
        unpack(reuse_general_perplexity_inputs),
    output:
        "results/perplexity_general/{model}/{dataset}/{method}/step_{step}.json",
    log:
        "logs/reuse_general_perplexity/{model}/{dataset}/{method}/step_{step}.log",
    benchmark:
        "benchmarks/rules/reuse_general_perplexity/{model}/{dataset}/{method}/step_{step}.tsv"
    wildcard_constraints:
        step=r"\d+",
        dataset=GP_REUSED_DATASETS,
    conda:
        "../envs/seqedit.yaml"
    threads: 1
    resources:
        **rule_resources("cpu_rules", "reuse_general_perplexity"),
    shell:
        "seqedit reuse-result --source-result {input.source_result} --source-checkpoint {input.source_weights} "
        "--checkpoint {input.weights} --out {output} > {log} 2>&1"
