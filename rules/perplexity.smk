# The data perspective (issue 13): MQD question forms built from CounterFact facts, the target perplexity of every
# dataset under the unedited model, and Fig. 3 / the perplexity table / the verdicts of C7 and C8.
# Resources: build_mqd takes prepare_data's, target_perplexity downstream's, the report report_figures_tables'.


ruleorder: build_mqd > prepare_data


rule build_mqd:
    """An MQD question form (our rebuild of the paper's Multi-Question Dataset) from the raw CounterFact file."""
    input:
        built_dataset_raw,
    output:
        "results/data/{dataset}.jsonl",
    log:
        "logs/build_mqd/{dataset}.log",
    benchmark:
        "benchmarks/rules/build_mqd/{dataset}.tsv"
    wildcard_constraints:
        dataset=built_dataset_pattern(),
    conda:
        "../envs/seqedit.yaml"
    threads: 1
    resources:
        **rule_resources("cpu_rules", "prepare_data"),
    params:
        n=lambda w: DATASETS_CFG[w.dataset]["n_requests"],
        source=lambda w: source_dataset(w.dataset),
        seed=SEED,
    shell:
        "seqedit build-mqd --dataset {params.source} --raw {input} --n {params.n} --seed {params.seed} "
        "--out {output} > {log} 2>&1"


rule target_perplexity:
    """Mean / median perplexity of target_new after the prompt under the unedited model (teacher forced)."""
    input:
        model="resources/models/{model}",
        requests="results/data/{dataset}.jsonl",
    output:
        "results/perplexity/{model}/{dataset}.json",
    log:
        "logs/target_perplexity/{model}/{dataset}.log",
    benchmark:
        "benchmarks/rules/target_perplexity/{model}/{dataset}.tsv"
    conda:
        "../envs/seqedit.yaml"
    threads: 1
    resources:
        **rule_resources("gpu_rules", "downstream"),
    params:
        dtype=lambda w: model_dtype(w.model),
        device=DEVICE,
        cpu_matmul=CPU_MATMUL,
    shell:
        "OMP_NUM_THREADS={threads} seqedit target-perplexity --model-dir {input.model} --requests {input.requests} "
        "--out {output} --model-name {wildcards.model} --dataset {wildcards.dataset} --dtype {params.dtype} "
        "--device {params.device} --cpu-matmul {params.cpu_matmul} > {log} 2>&1"


rule report_data_perspective:
    """Fig. 3 (downstream vs edits per MQD question form), Fig. 2 by the held-out perplexity (its change vs edits per
    editing dataset), the target-perplexity table, verdicts C7 and C8."""
    input:
        unpack(lambda w: data_report_inputs(w.model)),
    output:
        figure=report(
            "results/figures/{model}/fig3_mqd_downstream.png",
            caption="captions/fig3_mqd_downstream.rst",
            category="{model}",
            subcategory="figures",
        ),
        figure_pdf="results/figures/{model}/fig3_mqd_downstream.pdf",
        figure2=report(
            "results/figures/{model}/fig2_perplexity.png",
            caption="captions/fig2_perplexity.rst",
            category="{model}",
            subcategory="figures",
        ),
        figure2_pdf="results/figures/{model}/fig2_perplexity.pdf",
        table=report(
            "results/tables/{model}/table_target_perplexity.md",
            caption="captions/table_target_perplexity.rst",
            category="{model}",
            subcategory="tables",
        ),
        table_other=[f"results/tables/{{model}}/table_target_perplexity.{ext}" for ext in ("csv", "provenance.json")],
        claims="results/tables/{model}/claims_data.json",
    log:
        "logs/report_data_perspective/{model}.log",
    benchmark:
        "benchmarks/rules/report_data_perspective/{model}.tsv"
    conda:
        "../envs/seqedit.yaml"
    threads: 1
    resources:
        **rule_resources("cpu_rules", "report_figures_tables"),
    params:
        c7=" ".join(configured(C7_METHODS)),
        c8=" ".join(configured(C8_METHODS)),
        config=CONFIG_FILE,
        general_perplexity=lambda w, input: general_perplexity_option(w, input),
    shell:
        "seqedit report-data --model {wildcards.model} --downstream {input.downstream} "
        "--perplexity {input.perplexity} --figures-dir results/figures/{wildcards.model} "
        "--tables-dir results/tables/{wildcards.model} --config {params.config} --c7-methods {params.c7} "
        "--c8-methods {params.c8} {params.general_perplexity} --edit-meta {input.edit_meta} > {log} 2>&1"


rule data_perspective:
    """Target: the data-perspective report of every model (`snakemake data_perspective`)."""
    input:
        [f for model in MODELS_CFG for f in data_report_outputs(model)],
