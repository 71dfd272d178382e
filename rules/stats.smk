rule layer_stats:
    """Second moment of each edited layer's MLP-output-projection input, all layers in one pass."""
    input:
        model="resources/models/{model}",
        corpus=f"resources/corpus/{config['stats']['corpus']}.jsonl",
    output:
        directory("results/stats/{model}/{stats_key}"),
    log:
        "logs/layer_stats/{model}/{stats_key}.log",
    benchmark:
        "benchmarks/rules/layer_stats/{model}/{stats_key}.tsv"
    priority: 50  # most edit jobs wait for it; without a priority the 2-thread job starves behind 1-thread jobs
    conda:
        "../envs/seqedit.yaml"
    threads: THREADS["stats"]
    resources:
        **rule_resources("gpu_rules", "layer_stats"),
    params:
        layers=lambda w: " ".join(map(str, stats_layers(w.model))),
        n_tokens=config["stats"]["n_tokens"],
        max_length=config["stats"].get("max_length", 512),
        dtype=config["stats"].get("dtype", "float32"),
        model_dtype=lambda w: stats_forward_dtype(w.model),
        device=DEVICE,
        cpu_matmul=CPU_MATMUL,
    shell:
        "OMP_NUM_THREADS={threads} seqedit layer-stats --model-dir {input.model} --model-name {wildcards.model} "
        "--corpus {input.corpus} --layers {params.layers} --n-tokens {params.n_tokens} "
        "--max-length {params.max_length} --dtype {params.dtype} --model-dtype {params.model_dtype} "
        "--device {params.device} --cpu-matmul {params.cpu_matmul} --out-dir {output} > {log} 2>&1"
