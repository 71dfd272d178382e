from seqedit.report import FIGURE_FORMATS, TABLE_FORMATS


rule report_figures_tables:
    """The paper's figures (Fig. 2, 5a, 5b/c, 6, 8) and tables (Table 2, 3, 4) for one model; the names come from
    seqedit.report.FIGURES / TABLES, each with its caption in rules/captions/{name}.rst."""
    input:
        unpack(lambda w: report_inputs(w.model)),
    output:
        figures=[
            report(
                f"results/figures/{{model}}/{name}.png",
                caption=f"captions/{name}.rst",
                category="{model}",
                subcategory="figures",
            )
            for name in FIGURES
        ],
        figures_other=[
            f"results/figures/{{model}}/{name}.{ext}" for name in FIGURES for ext in FIGURE_FORMATS if ext != "png"
        ],
        tables=[
            report(
                f"results/tables/{{model}}/{name}.md",
                caption=f"captions/{name}.rst",
                category="{model}",
                subcategory="tables",
            )
            for name in TABLES
        ],
        tables_other=[
            f"results/tables/{{model}}/{name}.{ext}" for name in TABLES for ext in TABLE_FORMATS if ext != "md"
        ],
    log:
        "logs/report/{model}.log",
    benchmark:
        "benchmarks/rules/report/{model}.tsv"
    conda:
        "../envs/seqedit.yaml"
    threads: 1
    resources:
        **rule_resources("cpu_rules", "report_figures_tables"),
    params:
        methods=" ".join(METHODS_CFG),
        datasets=" ".join(DATASETS_CFG),
        steps=" ".join(map(str, sorted({s for d in DATASETS_CFG for s in steps_for(d)}))),
        config=CONFIG_FILE,
        general_perplexity=lambda w, input: general_perplexity_option(w, input),
        variants=VARIANTS_ARG,  # the CounterFact variant each entry edits (rules/mquake_inputs.smk)
        variants_text=VARIANTS_TEXT,  # the same for the captions
    shell:
        "seqedit report --model {wildcards.model} --norms {input.norms} --metrics {input.metrics} "
        "--base-metrics {input.base_metrics} --downstream {input.downstream} --methods {params.methods} "
        "--datasets {params.datasets} --table-steps {params.steps} --figures-dir results/figures/{wildcards.model} "
        "--tables-dir results/tables/{wildcards.model} --config {params.config} {params.general_perplexity} "
        "--variants {params.variants} --edit-meta {input.edit_meta} > {log} 2>&1"
