"""``seqedit report-data``: the data-perspective report of one model (Fig. 3, Fig. 2 by the held-out perplexity, the
target-perplexity table and the verdicts of C7 and C8).

Writes ``{figures_dir}/fig3_mqd_downstream.{png,pdf}``, ``{figures_dir}/fig2_perplexity.{png,pdf}`` (a "no data"
panel per method without ``--general-perplexity``), ``{tables_dir}/table_target_perplexity.{md,csv,
provenance.json}`` and ``{tables_dir}/claims_data.json`` (``[{claim, measure, evidence, verdict}]`` for C7 and C8
with lm-eval's damage, then, when ``--general-perplexity`` files are given, C7 and C8 with the held-out perplexity's
rise as the damage).
"""
from __future__ import annotations

import argparse
import json

from .shared_args import add_shared_options

OUTPUT_NAMES = {
    "figures": ["fig3_mqd_downstream.png", "fig3_mqd_downstream.pdf", "fig2_perplexity.png", "fig2_perplexity.pdf"],
    "tables": ["table_target_perplexity.md", "table_target_perplexity.csv",
               "table_target_perplexity.provenance.json", "claims_data.json"],
}


def make_data_report(model: str, downstream: list[str], perplexity: list[str], figures_dir: str, tables_dir: str,
                     config: str | list | None = None, c7_methods=("rome", "memit", "d4s"),
                     c8_methods=("kn", "rome", "memit"), general_perplexity: list[str] | None = None,
                     edit_meta: list[str] | None = None) -> list[dict]:
    from ..atomic import write_json
    from . import provenance
    from .claims_data import c7_from_results, c8_from_results
    from .fig3 import fig3_mqd, save_fig3
    from .perplexity import load_perplexity, mean_perplexities, write_perplexity_table
    from .load import load_downstream

    prov = provenance.collect(config)
    ds = load_downstream(downstream)
    if not ds.empty:
        ds = ds[ds["model"] == model] if model in set(ds["model"]) else ds
    ppl_df = load_perplexity(perplexity)
    ppl = mean_perplexities(ppl_df)
    held_out_ppl = None
    if general_perplexity:
        from .general_ppl import load_general_perplexity

        held_out_ppl = load_general_perplexity(general_perplexity)
        if model in set(held_out_ppl["model"]):
            held_out_ppl = held_out_ppl[held_out_ppl["model"] == model]
    save_fig3(fig3_mqd(ds, ppl, methods=list(c7_methods), footer=provenance.footer(prov), model=model,
                       general_perplexity=held_out_ppl), figures_dir)
    write_perplexity_table(ppl_df, tables_dir, prov)
    from .fig2_perplexity import fig2_perplexity, save_fig2_perplexity
    from .same_edits import load_edit_hashes

    same = load_edit_hashes(edit_meta or [])
    fig2 = fig2_perplexity(held_out_ppl, list(c8_methods), footer=provenance.footer(prov), model=model,
                           same_edits=same)
    save_fig2_perplexity(fig2, figures_dir)
    claims = [c7_from_results(ds, ppl, methods=list(c7_methods)),
              c8_from_results(ds, methods=list(c8_methods), same_edits=same)]
    if held_out_ppl is not None:
        from .claims_data import c7_from_perplexity, c8_from_perplexity

        claims += [c7_from_perplexity(held_out_ppl, ppl, methods=list(c7_methods)),
                   c8_from_perplexity(held_out_ppl, methods=list(c8_methods), same_edits=same)]
    write_json(f"{tables_dir}/claims_data.json", claims)
    return claims


def cli(command: str, argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog=f"seqedit {command}", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--downstream", nargs="*", default=[], help="downstream JSON files (base.json and checkpoints)")
    p.add_argument("--perplexity", nargs="*", default=[], help="results/perplexity/{model}/{dataset}.json files")
    p.add_argument("--figures-dir", required=True)
    p.add_argument("--tables-dir", required=True)
    add_shared_options(p)  # --config, --general-perplexity, --edit-meta
    p.add_argument("--c7-methods", nargs="*", default=["rome", "memit", "d4s"])
    p.add_argument("--c8-methods", nargs="*", default=["kn", "rome", "memit"])
    a = p.parse_args(argv)
    claims = make_data_report(a.model, a.downstream, a.perplexity, a.figures_dir, a.tables_dir, a.config,
                              a.c7_methods, a.c8_methods, a.general_perplexity, a.edit_meta)
    print(json.dumps(claims, indent=1))
