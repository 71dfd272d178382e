"""Cells and tables as Markdown and LaTeX, and writing a table's files.

A table body is a list of rows; a cell is a string or a (text, mark) pair, mark in {"best", "second", ""}. The
same rows are rendered as Markdown (:func:`md_table`) and LaTeX (:func:`latex_table`: pandas ``Styler.to_latex``
with best ``\\textbf`` and second ``\\underline``). Best / second are a dense ranking on the displayed values
(:func:`rank_marks`): ties share the mark, NaN is shown as "-" (LaTeX "--") and never ranked, a column with fewer
than two finite values is not marked. Markdown marks with ``**bold**`` and ``<u>underline</u>``.

``md_table`` is written by hand: ``DataFrame.to_markdown`` (tabulate) pads every cell to its column's width,
re-formats numbers and does not escape "|".
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Iterable, Sequence, Union

import pandas as pd

from seqedit.atomic import write_json, write_text

from . import provenance as _prov
from .names import DECIMALS, isnan

Cell = Union[str, tuple]


def fmt(x: float, decimals: int = DECIMALS) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.{decimals}f}"


def fmt_signed(x: float, decimals: int = DECIMALS) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    r = round(x, decimals)
    return f"{(0.0 if r == 0 else r):+.{decimals}f}"  # no "-0.00"


def fmt_count(x) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else str(int(x))


def rank_marks(values: Sequence[float], decimals: int = DECIMALS) -> list[str]:
    """'best' / 'second' / '' per value: dense ranking on the values rounded to ``decimals`` (higher is better)."""
    rounded = [None if (v is None or isnan(float(v))) else round(float(v), decimals) for v in values]
    distinct = sorted({r for r in rounded if r is not None}, reverse=True)
    if sum(r is not None for r in rounded) < 2:
        return [""] * len(values)
    rank = {distinct[0]: "best", **({distinct[1]: "second"} if len(distinct) > 1 else {})}
    return [rank.get(r, "") if r is not None else "" for r in rounded]


def marked_column(values: Sequence[float], decimals: int = DECIMALS) -> list[tuple[str, str]]:
    """Formatted values with their best/second marks."""
    return list(zip([fmt(v, decimals) for v in values], rank_marks(values, decimals)))


def decorate(text: str, mark: str) -> str:
    """Markdown: best bold, second underlined."""
    return {"best": f"**{text}**", "second": f"<u>{text}</u>"}.get(mark, text)


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}


def latex_escape(text) -> str:
    """Plain text -> LaTeX text mode: the ten special characters (as pandas' ``escape="latex"``), and < > | which
    OT1 fonts misprint (pandas leaves them)."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def _split(cell: Cell) -> tuple[str, str]:
    if isinstance(cell, tuple):
        return str(cell[0]), str(cell[1] or "")
    return str(cell), ""


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], align: Sequence[str] | None = None) -> str:
    align = list(align or ["l"] * len(headers))
    sep = {"l": ":---", "r": "---:", "c": ":---:"}
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(esc(h) for h in headers) + " |", "|" + "|".join(sep[a] for a in align) + "|"]
    lines += ["| " + " | ".join(esc(decorate(*_split(c))) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def md_footer(prov: dict) -> str:
    return f"<sub>Provenance: {_prov.footer(prov)}</sub>"


def latex_label(*parts) -> str:
    return "tab:" + "-".join(re.sub(r"[^A-Za-z0-9]+", "-", str(p)).strip("-") for p in parts if p)


_LATEX_MARK = {"best": "textbf: --rwrap;", "second": "underline: --rwrap;"}


def latex_tabular(headers: Sequence[str], rows: Sequence[Sequence[Cell]], align: str,
                  breaks: Iterable[int] = ()) -> str:
    """A booktabs ``tabular`` by ``Styler.to_latex``; a missing value "-" is "--"; ``breaks``: row indices preceded
    by a ``\\midrule`` (Styler has no rule between body rows: inserted into its output)."""
    cells = [[_split(c) for c in row] for row in rows]
    text = pd.DataFrame([["--" if t == "-" else latex_escape(t) for t, _ in row] for row in cells],
                        columns=range(len(headers)), dtype=object)
    marks = pd.DataFrame([[_LATEX_MARK.get(m, "") for _, m in row] for row in cells], columns=text.columns)
    styler = text.style.hide(axis="index").relabel_index([latex_escape(h) for h in headers], axis=1)
    lines = styler.apply(lambda _: marks, axis=None).to_latex(column_format=align, hrules=True).splitlines()
    body = lines.index("\\midrule") + 1
    for i in sorted(set(breaks), reverse=True):
        if 0 < i < len(rows):
            lines.insert(body + i, "\\midrule")
    return "\n".join(lines)


def latex_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], align: str, caption: str | None = None,
                label: str | None = None, breaks: Iterable[int] = ()) -> str:
    """One ``table`` float holding :func:`latex_tabular`, caption and table in small type (written here: ``Styler``'s
    own float puts ``\\small`` after the caption)."""
    out = ["\\begin{table}[t]", "\\centering", "\\small"]
    out += [f"\\caption{{{latex_escape(caption)}}}"] if caption else []
    out += [f"\\label{{{label}}}"] if label else []
    return "\n".join(out + [latex_tabular(headers, rows, align, breaks), "\\end{table}"])


def latex_document(title: str, blocks: Sequence[str], prov: dict | None = None, notes: Sequence[str] = (),
                   marks: bool = True) -> str:
    """A ``.tex`` fragment for ``\\input``: provenance and notes as comments, then the table floats (or a
    "no data" comment). Needs ``\\usepackage{booktabs}``."""
    lines = [f"% {title}"]
    if prov is not None:
        lines.append(f"% Provenance: {_prov.footer(prov)}")
    lines += [f"% {n}" for n in notes]
    lines.append("% Requires \\usepackage{booktabs}."
                 + (" Best value of a column in \\textbf, second best \\underline." if marks else ""))
    lines.append("")
    if not blocks:
        lines += ["% no data", "\\begin{center}\\emph{no data}\\end{center}"]
    for b in blocks:
        lines += [b, ""]
    return "\n".join(lines)


def write_table(df: pd.DataFrame, markdown: str, out_dir: str | Path, name: str, prov: dict,
                latex: str | None = None) -> list[Path]:
    """``{name}.md``, ``{name}.csv`` (plain CSV), ``{name}.tex`` and ``{name}.provenance.json``, each written
    atomically (the order of :data:`seqedit.report.TABLE_FORMATS`)."""
    out_dir = Path(out_dir)
    paths = {ext: out_dir / f"{name}.{ext}" for ext in ("md", "csv", "tex", "provenance.json")}
    write_text(paths["md"], markdown)
    write_text(paths["csv"], df.to_csv(index=False, float_format=f"%.{DECIMALS}f"))
    write_text(paths["tex"], latex if latex is not None else latex_document(name, [], prov))
    files = [paths[e].name for e in ("md", "csv", "tex")]
    write_json(paths["provenance.json"], {"table": name, "files": files, **prov})
    return list(paths.values())


def interval_column(values: Sequence[float], lows: Sequence[float], highs: Sequence[float]) -> list[tuple[str, str]]:
    """Cells of one column: value [95% interval] where known, best/second marks only where the intervals separate
    the values (:func:`seqedit.report.intervals.interval_marks`)."""
    from .intervals import interval_marks, with_interval

    marks = interval_marks(rank_marks(values), values, lows, highs)
    return [(with_interval(fmt(v), lo, hi), m) for v, lo, hi, m in zip(values, lows, highs, marks)]
