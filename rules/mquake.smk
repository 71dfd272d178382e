rule download_prompt:
    """A prompt file a metric reads (seqedit.data.registry.PROMPTS: MQuAKE's multi-hop examples), from the data
    mirror or its pinned URL, as JSON with its source; without it the job fails, unless the config allows the
    hand-made fallback (`evaluation.mquake.prompt_fallback: handmade`), which the record then says."""
    output:
        "resources/prompts/{prompt}.json",
    log:
        "logs/download_prompt/{prompt}.log",
    benchmark:
        "benchmarks/rules/download_prompt/{prompt}.tsv"
    localrule: True
    conda:
        "../envs/seqedit.yaml"
    threads: 1
    resources:
        **rule_resources("cpu_rules", "download_data"),
    params:
        source=lambda w: mirror_keys.prompt_key(MIRROR, w.prompt),  # content of the mirror file (or the URL)
        fallback=prompt_fallback_arg(),
    shell:
        "seqedit download-data --prompt {wildcards.prompt} {params.fallback} --out {output} > {log} 2>&1"
