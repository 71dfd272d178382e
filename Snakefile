# seqedit: "Reasons and Solutions for the Decline in Model Performance after Editing" (Huang et al., NeurIPS 2024)
# as a DAG: model -> data -> layer stats -> sequential edits (checkpoint chain) -> norms, edit metrics,
# downstream (lm-eval) -> figures and tables.  `snakemake --cores all` runs the embedded default (config.yaml).
from pathlib import Path

from snakemake.utils import min_version, validate

from seqedit.config_check import check_integers
from seqedit.config_overrides import command_line_config

min_version("8.0")


report: "report/workflow.rst"


# the embedded default, unless config files are given (`--configfile config/paper.yaml` replaces it instead of
# being merged into it, so no default model or dataset leaks into the paper's DAG)
if not workflow.configfiles:

    configfile: "config.yaml"


# `--config key=value`: values typed as YAML (Snakemake passes nested ones as strings); a key given there replaces
# the config file's value as a whole (seqedit.config_overrides)
config.update(command_line_config(getattr(workflow.config_settings, "config", None)))
validate(config, "config/schema.yaml")
check_integers(config, Path(workflow.basedir) / "config" / "schema.yaml")  # 3.0 passes JSON Schema's integer


include: "rules/common.smk"
include: "rules/rule_inputs.smk"
include: "rules/mquake_inputs.smk"
include: "rules/reuse_edits_inputs.smk"
include: "rules/data.smk"
include: "rules/mquake.smk"
include: "rules/stats.smk"
include: "rules/edit.smk"
include: "rules/norms.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"
include: "rules/perplexity_inputs.smk"
include: "rules/perplexity.smk"
include: "rules/general_perplexity_inputs.smk"
include: "rules/general_perplexity.smk"


# cheap jobs run on the host that runs Snakemake, not submitted (SLURM): targets, data, norms, reports
localrules:
    all,
    data_perspective,
    download_data,
    prepare_data,
    build_mqd,
    corpus,
    norms,
    reuse_edits,
    report_figures_tables,
    report_data_perspective,


rule all:
    default_target: True
    input:
        all_outputs(),
        data_perspective_outputs(),  # Fig. 3, the perplexity table, C7/C8: only with an MQD dataset configured
