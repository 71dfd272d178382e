rule model:
    """Resolve a configured model name to a local Hugging Face folder (GGUF converted once, or downloaded)."""
    output:
        directory("resources/models/{model}"),
    log:
        "logs/model/{model}.log",
    benchmark:
        "benchmarks/rules/model/{model}.tsv"
    conda:
        "../envs/seqedit.yaml"
    threads: 1
    resources:
        **rule_resources("cpu_rules", "model"),
    params:
        path=lambda w: f"--path-content {MODEL_KEYS[w.model]}" if w.model in MODEL_KEYS else "",  # not the folder
    shell:
        "seqedit model --name {wildcards.model} --out {output} {params.path} > {log} 2>&1"


rule download_data:
    """Raw dataset file from the data mirror (config data_mirror) or its canonical URL."""
    output:
        "resources/data/{dataset}.json",
    log:
        "logs/download_data/{dataset}.log",
    benchmark:
        "benchmarks/rules/download_data/{dataset}.tsv"
    conda:
        "../envs/seqedit.yaml"
    threads: 1
    resources:
        **rule_resources("cpu_rules", "download_data"),
    params:
        source=lambda w: mirror_keys.dataset_key(MIRROR, w.dataset),  # content of the mirror file (or the URL)
    shell:
        "seqedit download-data --dataset {wildcards.dataset} --out {output} > {log} 2>&1"


rule prepare_data:
    """Normalise every record to the request schema (JSONL). Not the first n_requests only: the file (and so every
    edit chain) stays the same when n_requests grows, and a longer run adds only the new checkpoints."""
    input:
        lambda w: f"resources/data/{source_dataset(w.dataset)}.json",
    output:
        "results/data/{dataset}.jsonl",
    log:
        "logs/prepare_data/{dataset}.log",
    benchmark:
        "benchmarks/rules/prepare_data/{dataset}.tsv"
    conda:
        "../envs/seqedit.yaml"
    threads: 1
    resources:
        **rule_resources("cpu_rules", "prepare_data"),
    params:
        source=lambda w: source_dataset(w.dataset),
    shell:
        "seqedit prepare-data --dataset {params.source} --raw {input} --out {output} > {log} 2>&1"


rule corpus:
    """Text for the layer statistics (Wikipedia at paper scale, WikiText in the default)."""
    output:
        "resources/corpus/{corpus}.jsonl",
    log:
        "logs/corpus/{corpus}.log",
    benchmark:
        "benchmarks/rules/corpus/{corpus}.tsv"
    conda:
        "../envs/seqedit.yaml"
    threads: 1
    resources:
        **rule_resources("cpu_rules", "corpus"),
    params:
        source=lambda w: mirror_keys.corpus_key(MIRROR, w.corpus),
        max_docs=lambda w: f"--max-docs {config['stats']['n_samples']}" if config["stats"].get("n_samples") else "",
    shell:
        "seqedit corpus --name {wildcards.corpus} --out {output} {params.max_docs} > {log} 2>&1"
