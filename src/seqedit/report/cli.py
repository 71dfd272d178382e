"""``seqedit report``: all figures and tables of one model from explicit lists of result files.

Example (a Snakemake rule passes its inputs explicitly)::

    seqedit report --model llama2-7b \\
        --norms results/norms/llama2-7b/zsre/rome.csv results/norms/llama2-7b/zsre/d4s.csv \\
        --metrics results/metrics/llama2-7b/zsre/rome/step_100.json ... \\
        --base-metrics results/metrics/llama2-7b/zsre/base.json \\
        --downstream results/downstream/llama2-7b/base.json results/downstream/llama2-7b/zsre/d4s/step_1000.json \\
        --figures-dir results/figures/llama2-7b --tables-dir results/tables/llama2-7b --config config.yaml

Without file lists, ``--results-dir results`` globs ``{results}/norms/{model}/*/*.csv``,
``{results}/metrics/{model}/*/*/step_*.json`` (with ``*/base.json``, the unedited model's) and
``{results}/downstream/{model}/**.json``. The unedited model's metrics (0 edits) are the first row of Tables 2 and 3
and the point at 0 edits of Fig. 8; no other figure or table reads them.

The outputs always have the same names (see :func:`seqedit.report.figure_outputs` and
:func:`seqedit.report.table_outputs`): figures ``{fig2_downstream,fig5_bottleneck,fig5_norms_per_layer,
fig6_norms_methods,fig8_edit_metrics}.{png,pdf}``; tables ``{table2_zsre,table3_counterfact_mquake,
table4_downstream}.{md,csv,tex,provenance.json}``.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Sequence

from .outputs import FIGURE_FORMATS, FIGURES, TABLES
from .shared_args import add_shared_options

log = logging.getLogger(__name__)


def _filter(df, model: str | None, methods: Sequence[str] | None, datasets: Sequence[str] | None, what: str):
    if df.empty:
        return df
    if model is not None:
        other = sorted(set(df["model"].dropna()) - {model})
        if other:
            log.warning("report: %s inputs of other models %s ignored (--model %s)", what, other, model)
        df = df[df["model"] == model]
    if methods:
        keep = {m.lower() for m in methods}
        df = df[df["method"].isna() | df["method"].astype(str).str.lower().isin(keep)]
    if datasets:
        df = df[df["dataset"].isna() | df["dataset"].isin(list(datasets))]
    return df


def _glob_results(results_dir: Path, model: str) -> tuple[list[Path], list[Path], list[Path]]:
    norms = sorted((results_dir / "norms" / model).glob("*/*.csv"))
    metrics = sorted((results_dir / "metrics" / model).glob("*/*/step_*.json"))
    metrics += sorted((results_dir / "metrics" / model).glob("*/base.json"))
    ds_root = results_dir / "downstream" / model
    downstream = sorted([ds_root / "base.json"] if (ds_root / "base.json").exists() else [])
    downstream += sorted(ds_root.glob("*/*/step_*.json"))
    return norms, metrics, downstream


def make_report(
    model: str | None = None,
    norms: Sequence[str | Path] | None = None,
    metrics: Sequence[str | Path] | None = None,
    downstream: Sequence[str | Path] | None = None,
    base_metrics: Sequence[str | Path] | None = None,
    figures_dir: str | Path | None = None,
    tables_dir: str | Path | None = None,
    config_path: str | Path | list | None = None,
    config: dict | list | None = None,
    methods: Sequence[str] | None = None,
    datasets: Sequence[str] | None = None,
    steps: Sequence[int] | None = None,
    window: int | None = None,
    norm_agg: str = "mean",
    formats: Sequence[str] = FIGURE_FORMATS,
    general_perplexity: Sequence[str | Path] | None = None,
    variants: dict[str, str] | None = None,
    edit_meta: Sequence[str | Path] | None = None,
) -> list[Path]:
    """Load the inputs, write every figure into ``figures_dir`` and every table into ``tables_dir`` (either may
    be None to skip it). ``base_metrics``: the unedited model's metrics files (``base.json``; also recognised
    among ``metrics``). Returns the written paths."""
    from . import claims, figures, general_ppl, provenance
    from . import failed_marks, failures
    from .table2 import T2_DATASET
    from .table3 import T3_DATASETS
    from .load import load_downstream, load_metrics, load_norms
    from .names import BASE_METHOD
    from .render import write_table
    from .table2 import table2, table2_latex, table2_markdown
    from .table3 import table3, table3_latex, table3_markdown
    from .table4 import table4, table4_latex, table4_markdown

    # a missing or non-finite result file is not loaded; the report shows its run as failed (.failures)
    screened = failures.screen(norms, metrics, downstream)
    norms, metrics, downstream = screened.norms, screened.metrics, screened.downstream
    norms_df = load_norms(norms)
    metrics_df = load_metrics(list(metrics or []) + list(base_metrics or []))
    is_base = metrics_df["method"] == BASE_METHOD  # the unedited model: only Tables 2, 3 and Fig. 8 show it
    base_df, metrics_df = (metrics_df[mask].reset_index(drop=True) for mask in (is_base, ~is_base))
    ds_df = load_downstream(downstream)

    if model is None:
        models = set()
        for df in (norms_df, metrics_df, ds_df):
            if not df.empty:
                models |= set(df["model"].dropna())
        if len(models) > 1:
            raise ValueError(f"inputs hold several models {sorted(models)}; pass --model")
        model = models.pop() if models else None

    norms_df = _filter(norms_df, model, methods, datasets, "norms")
    metrics_df = _filter(metrics_df, model, methods, datasets, "metrics")
    base_df = _filter(base_df, model, None, datasets, "unedited-model metrics")
    ds_df = _filter(ds_df, model, methods, datasets, "downstream")
    # the held-out perplexity (issue 9): None = not configured (no such rows in the claims, no Fig. 6 row (d))
    gp_df = None if general_perplexity is None else _filter(
        general_ppl.load_general_perplexity(general_perplexity), model, methods, datasets, "general perplexity")

    prov = provenance.collect(config_path=config_path, config=config)
    prov["model"] = model
    prov["inputs"] = {
        "norms": [str(p) for p in norms or []],
        "metrics": [str(p) for p in metrics or []],
        "base_metrics": [str(p) for p in base_metrics or []],
        "downstream": [str(p) for p in downstream or []],
        "general_perplexity": [str(p) for p in general_perplexity or []],
    }
    failed = failed_marks.for_report(screened.failed, model, methods, datasets)
    prov["failed_runs"] = failed.to_dict("records")  # the listed files left out (inputs: the ones used)
    written: list[Path] = []

    if figures_dir is not None:
        kw = dict(methods=methods, datasets=datasets, prov=prov, model=model)
        figs = {
            "fig2_downstream": lambda: figures.fig2_downstream(ds_df, **kw),
            "fig5_bottleneck": lambda: figures.fig5_bottleneck(norms_df, window=window, **kw),
            "fig5_norms_per_layer": lambda: figures.fig5_norms_per_layer(norms_df, **kw),
            "fig6_norms_methods": lambda: figures.fig6_norms_methods(norms_df, ds_df, agg=norm_agg,
                                                                      general_perplexity=gp_df, **kw),
            "fig8_edit_metrics": lambda: figures.fig8_edit_metrics(metrics_df, base=base_df, **kw),
        }
        assert set(figs) == set(FIGURES)
        kept = norms_df, metrics_df, ds_df  # a figure leaves a failed run out altogether, and says so
        norms_df, metrics_df, ds_df = failed_marks.figure_frames(norms_df, metrics_df, ds_df, failed)
        for name in FIGURES:
            fig = failed_marks.note_figure(figs[name](), failed_marks.figure_notes(failed, name))
            written += figures.save(fig, figures_dir, name, formats)
        norms_df, metrics_df, ds_df = kept

    if tables_dir is not None:
        # tables hold only the (model-filtered) provenance essentials, not the long input lists
        tprov = {k: v for k, v in prov.items() if k != "inputs"}
        t2 = table2(metrics_df, steps=steps, methods=methods, datasets=datasets, base=base_df)
        t3 = table3(metrics_df, methods=methods, datasets=datasets, base=base_df, variants=variants)
        t4 = table4(ds_df, methods=methods, datasets=datasets)
        t2, t3, t4 = failed_marks.table_status(t2, t3, t4, failed, [T2_DATASET], T3_DATASETS, steps=steps,
                                               methods=methods, datasets=datasets)
        on = f" ({model})" if model else ""
        titles = {
            "table2_zsre": f"Table 2{on}: zsRE, sequential editing, edit metrics (%)",
            "table3_counterfact_mquake": f"Table 3{on}: CounterFact and MQuAKE at the last checkpoint",
            "table4_downstream": f"Table 4{on}: downstream before/after sequential editing (%)",
        }
        titles["claims"] = f"The paper's claims{on}, tested on this run"
        titles["table_general_perplexity"] = f"Held-out perplexity{on} before/after sequential editing"
        from .same_edits import load_edit_hashes

        claims_df = claims.claims_table(norms_df, metrics_df, ds_df, general_perplexity=gp_df,
                                        same_edits=load_edit_hashes(edit_meta or []))
        render = {
            "claims": (failed_marks.mark_claims(claims_df, failed), claims.claims_markdown, claims.claims_latex),
            "table2_zsre": (t2, table2_markdown, table2_latex),
            "table3_counterfact_mquake": (t3, table3_markdown, table3_latex),
            "table4_downstream": (t4, table4_markdown, table4_latex),
            "table_general_perplexity": (general_ppl.change_table(gp_df), general_ppl.general_perplexity_markdown,
                                         general_ppl.general_perplexity_latex),
        }
        assert set(render) == set(TABLES)
        for name in TABLES:
            df, md, tex = render[name]
            written += write_table(df, md(df, tprov, titles[name]), tables_dir, name,
                                     {**tprov, "inputs": prov["inputs"]}, latex=tex(df, tprov, titles[name]))
    return written


def build_parser(prog: str = "seqedit report") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Figures (PNG+PDF) and tables (Markdown, CSV, LaTeX) of one model from the workflow's result "
        "files.",
        epilog="Outputs: figures {%s}.{png,pdf}; tables {%s}.{md,csv,tex,provenance.json}. A figure whose inputs are "
        "missing is still written, with 'no data' panels." % (",".join(FIGURES), ",".join(TABLES)),
    )
    p.add_argument("--model", help="model name (default: the one model found in the inputs)")
    p.add_argument("--norms", nargs="*", default=[], help="results/norms/{model}/{dataset}/{method}.csv files")
    p.add_argument("--metrics", nargs="*", default=[],
                   help="results/metrics/{model}/{dataset}/{method}/step_{k}.json files")
    p.add_argument("--base-metrics", nargs="*", default=[],
                   help="results/metrics/{model}/{dataset}/base.json files: the unedited model (Tables 2, 3, Fig. 8)")
    p.add_argument("--downstream", nargs="*", default=[],
                   help="results/downstream/{model}/base.json and .../{dataset}/{method}/step_{k}.json files")
    add_shared_options(p)  # --config, --general-perplexity, --edit-meta
    p.add_argument("--results-dir", help="glob the inputs of --model under this folder when no list is given")
    p.add_argument("--figures-dir", help="output folder of the figures (omit to skip figures)")
    p.add_argument("--tables-dir", help="output folder of the tables (omit to skip tables)")
    p.add_argument("--methods", nargs="*", help="methods to show, in this order (default: all found)")
    p.add_argument("--datasets", nargs="*", help="datasets to show, in this order (default: all found)")
    p.add_argument("--table-steps", nargs="*", type=int, help="checkpoints (n_edits) in Table 2 (default: all)")
    p.add_argument("--variants", nargs="*", default=[], metavar="DATASET=VARIANT",
                   help="the registry variant each dataset entry edited (seqedit.data.variants), named in Table 3")
    p.add_argument("--window", type=int, help="rolling-mean window of Fig. 5a (default: auto)")
    p.add_argument("--norm-agg", choices=["mean", "first"], default="mean",
                   help="Fig. 6 norms: mean over the edited layers, or the first edited layer")
    p.add_argument("--formats", nargs="+", default=list(FIGURE_FORMATS), help="figure formats (default png pdf)")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def cli(command: str, argv: list[str]) -> None:
    args = build_parser(f"seqedit {command}").parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    norms, metrics, downstream = args.norms, args.metrics, args.downstream
    if args.results_dir:
        if not args.model:
            raise SystemExit("seqedit report: --results-dir needs --model")
        g_norms, g_metrics, g_ds = _glob_results(Path(args.results_dir), args.model)
        norms, metrics, downstream = norms or g_norms, metrics or g_metrics, downstream or g_ds
    if not args.figures_dir and not args.tables_dir:
        raise SystemExit("seqedit report: give --figures-dir and/or --tables-dir")
    config = None
    if args.config:
        try:
            import yaml

            config = []
            for path in args.config:
                with open(path, encoding="utf-8") as fh:
                    config.append(yaml.safe_load(fh))
            config = config[0] if len(config) == 1 else config
        except Exception as exc:  # provenance still records the path; the hash of the file is what matters
            log.warning("report: cannot parse %s (%s)", " ".join(args.config), exc)
            config = None
    written = make_report(
        model=args.model,
        norms=norms,
        metrics=metrics,
        downstream=downstream,
        base_metrics=args.base_metrics,
        figures_dir=args.figures_dir,
        tables_dir=args.tables_dir,
        config_path=args.config,
        config=config if isinstance(config, dict) else None,
        methods=args.methods,
        datasets=args.datasets,
        steps=args.table_steps,
        window=args.window,
        norm_agg=args.norm_agg,
        formats=tuple(args.formats),
        general_perplexity=args.general_perplexity,
        variants=dict(v.split("=", 1) for v in args.variants),
        edit_meta=args.edit_meta,
    )
    for p in written:
        log.info("wrote %s", p)
