rule norms:
    """mean|W| and mean|Delta| per edit and edited layer, from the last checkpoint's log."""
    input:
        lambda w: ckpt(w.model, w.dataset, w.method, steps_for(w.dataset)[-1]).replace(".safetensors", ".json"),
    output:
        "results/norms/{model}/{dataset}/{method}.csv",
    log:
        "logs/norms/{model}/{dataset}/{method}.log",
    benchmark:
        "benchmarks/rules/norms/{model}/{dataset}/{method}.tsv"
    conda:
        "../envs/seqedit.yaml"
    threads: 1
    resources:
        **rule_resources("cpu_rules", "norms"),
    shell:
        "seqedit norms --checkpoint {input} --out {output} > {log} 2>&1"
