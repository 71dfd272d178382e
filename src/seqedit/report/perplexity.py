"""The target-perplexity table: perplexity of each dataset's editing objective under the unedited model.

Reads the files of ``seqedit target-perplexity`` (``results/perplexity/{model}/{dataset}.json``) and writes
``{name}.md`` (with a provenance footer), ``{name}.csv`` and ``{name}.provenance.json``. MQD question forms come
first in the paper's order (T/F, MC, DG), with the paper's reported values beside ours (a secondary source: the
paper's own table is an image), then every other dataset.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

import pandas as pd

from ..atomic import write_json, write_text
from .claims_data import FORM_LABELS, PAPER_FORM_ORDER

TABLE_NAME = "table_target_perplexity"
# reported target perplexities of MQD (approximate, from a secondary source; the paper shows an image)
PAPER_PPL = {"mqd_tf": 12.0, "mqd_mc": 43.0, "mqd_dg": 297.0}
COLUMNS = ["model", "dataset", "form", "n", "mean", "median", "geometric_mean", "mean_target_tokens", "paper_mean"]


def load_perplexity(paths: Iterable[str | os.PathLike] | None) -> pd.DataFrame:
    """One row per existing file (see :data:`COLUMNS`), MQD forms first in the paper's order."""
    rows = []
    for p in map(Path, paths or []):
        if not p.is_file():
            continue
        try:
            obj = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(f"{p}: not a target-perplexity JSON file ({e})") from None
        dataset = obj.get("dataset") or p.stem
        rows.append({
            "model": obj.get("model") or p.parent.name, "dataset": dataset, "form": FORM_LABELS.get(dataset, ""),
            "n": obj.get("n"), "mean": obj.get("mean"), "median": obj.get("median"),
            "geometric_mean": obj.get("geometric_mean"), "mean_target_tokens": obj.get("mean_target_tokens"),
            "paper_mean": PAPER_PPL.get(dataset),
        })
    df = pd.DataFrame(rows, columns=COLUMNS)
    rank = {d: i for i, d in enumerate(PAPER_FORM_ORDER)}
    order = sorted(range(len(df)), key=lambda i: (rank.get(df["dataset"].iloc[i], len(rank)), df["dataset"].iloc[i]))
    return df.iloc[order].reset_index(drop=True)


def mean_perplexities(df: pd.DataFrame) -> dict[str, float]:
    """``{dataset: mean target perplexity}``."""
    return {d: float(m) for d, m in zip(df["dataset"], df["mean"]) if m is not None and not pd.isna(m)}


def _num(x, decimals: int = 1) -> str:
    return "-" if x is None or pd.isna(x) else f"{x:.{decimals}f}"


def perplexity_markdown(df: pd.DataFrame, footer: str = "") -> str:
    title = "Target perplexity under the unedited model (teacher forced, target_new after the prompt)"
    if df.empty:
        return f"### {title}\n\nno data\n" + (f"\n{footer}\n" if footer else "")
    lines = [f"### {title}", "", "| model | dataset | form | n | mean | median | geometric mean | target tokens "
             "| paper (mean) |", "|:---|:---|:---|---:|---:|---:|---:|---:|---:|"]
    for r in df.itertuples():
        lines.append(f"| {r.model} | {r.dataset} | {r.form or '-'} | {r.n} | {_num(r.mean)} | {_num(r.median)} | "
                     f"{_num(r.geometric_mean)} | {_num(r.mean_target_tokens, 2)} | {_num(r.paper_mean, 0)} |")
    lines += ["", "MQD is our rebuild from CounterFact facts (the paper's MQD was not released); the paper's values "
              "are approximate (secondary source)."]
    if footer:
        lines += ["", footer]
    return "\n".join(lines) + "\n"


def write_perplexity_table(df: pd.DataFrame, out_dir: str | Path, prov: dict | None = None,
                           name: str = TABLE_NAME) -> list[Path]:
    """``{name}.md``, ``{name}.csv`` and ``{name}.provenance.json`` in ``out_dir``, each written atomically."""
    from . import provenance

    out_dir = Path(out_dir)
    footer = f"<sub>Provenance: {provenance.footer(prov)}</sub>" if prov else ""
    paths = [out_dir / f"{name}.{ext}" for ext in ("md", "csv", "provenance.json")]
    write_text(paths[0], perplexity_markdown(df, footer))
    write_text(paths[1], df.to_csv(index=False, float_format="%.4f"))
    write_json(paths[2], {"table": name, "files": [p.name for p in paths[:2]], **(prov or {})})
    return paths
