"""Summarise a finished workflow run for results/README.md: job seconds by rule (from Snakemake's ``benchmark:``
files) and one line per edit chain (from its norms file), printed as Markdown.

    python3 benchmarks/summarise_run.py --run /path/to/run/folder [--model smollm2-135m] [--since EPOCH]
        [--windows 50 --dataset zsre]

``--since``: only the jobs whose benchmark file was written after that time (an extension of an earlier run in the
same folder). ``--windows N``: per chain of ``--dataset``, one row per N consecutive edits (where a bottleneck sets
in).

Nothing is typed: every number is read from the run's files. ``wall`` is Snakemake's per-job wall time, ``cpu``
the job's CPU seconds (a loaded machine stretches the first, not the second).
"""
from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path


def dataset_of(parts: tuple[str, ...]) -> str:
    """The dataset entry a benchmark file (path parts below ``benchmarks/rules``) belongs to: ``rule/model/dataset/
    ...``, or a per-dataset file (``prepare_data/zsre.tsv``, ``target_perplexity/model/zsre.tsv``); ``-`` for the
    jobs every dataset shares (model, statistics, the base model's lm-eval and perplexity, the reports)."""
    if len(parts) >= 4:
        return parts[2]
    if parts[0] in PER_DATASET_FILES and len(parts) == PER_DATASET_FILES[parts[0]]:
        return Path(parts[-1]).stem
    return "-"


PER_DATASET_FILES = {"download_data": 2, "prepare_data": 2, "build_mqd": 2, "target_perplexity": 3}


def job_seconds(run: Path, since: float = 0.0, by_dataset: bool = False) -> dict[str, tuple[int, float, float]]:
    """``{rule: (jobs, wall seconds, cpu seconds)}`` over the run's benchmark files (the last repeat of each)
    written after ``since`` (seconds since the epoch); ``by_dataset``: keyed by dataset entry (:func:`dataset_of`)
    instead of rule."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for path in sorted((run / "benchmarks" / "rules").rglob("*.tsv")):
        if path.stat().st_mtime < since:
            continue
        rows = list(csv.DictReader(path.open(), delimiter="\t"))
        if not rows:
            continue
        parts = path.relative_to(run / "benchmarks" / "rules").parts
        rule = dataset_of(parts) if by_dataset else parts[0]
        totals[rule][0] += 1
        totals[rule][1] += float(rows[-1]["s"])
        totals[rule][2] += float(rows[-1]["cpu_time"] or 0.0)
    return {rule: (int(n), wall, cpu) for rule, (n, wall, cpu) in totals.items()}


def _quarters(values: list[float]) -> tuple[float, float]:
    quarter = max(1, len(values) // 4)
    return sum(values[:quarter]) / quarter, sum(values[-quarter:]) / quarter


def _per_edit(path: Path) -> dict[int, list[dict]]:
    per_edit: dict[int, list[dict]] = defaultdict(list)
    for row in csv.DictReader(path.open()):
        per_edit[int(row["edit"])].append(row)
    return per_edit


def _mean(rows: list[dict], key: str) -> float:
    vals = [float(r[key]) for r in rows if r.get(key) not in (None, "")]
    return sum(vals) / len(vals) if vals else float("nan")


def window_lines(run: Path, model: str, dataset: str, size: int) -> list[str]:
    """One Markdown row per ``size`` consecutive edits of every chain of ``dataset``: mean reached p(target), mean
    immediate efficacy, mean|W| at the window's last edit (growth from edit 1) and mean seconds per edit."""
    lines = []
    for path in sorted((run / "results" / "norms" / model / dataset).glob("*.csv")):
        per_edit = _per_edit(path)
        edits = sorted(per_edit)
        if not edits:
            continue
        first_w = _mean(per_edit[edits[0]], "mean_abs_w")
        for start in range(0, len(edits), size):
            window = edits[start:start + size]
            reached = sum(_mean(per_edit[e], "z_prob_last") for e in window) / len(window)
            immediate = sum(_mean(per_edit[e], "immediate_efficacy") for e in window) / len(window)
            seconds = sum(_mean(per_edit[e], "seconds") for e in window) / len(window)
            last_w = _mean(per_edit[window[-1]], "mean_abs_w")
            lines.append(f"| {path.stem} | {window[0]}-{window[-1]} | {reached:.3f} | {immediate:.3f} | "
                         f"{last_w:.5f} ({100 * (last_w / first_w - 1):+.2f}%) | {seconds:.1f} |")
    return lines


def chain_lines(run: Path, model: str) -> list[str]:
    """One Markdown row per (dataset, method) chain: edits, mean s/edit, reached p(target) and immediate efficacy
    in the first and last quarter of the edits, mean|W| (mean over the edited layers) at the first and last edit."""
    lines = []
    for path in sorted((run / "results" / "norms" / model).glob("*/*.csv")):
        per_edit = _per_edit(path)
        edits = sorted(per_edit)
        if not edits:
            continue

        def mean_of(key, edit):
            return _mean(per_edit[edit], key)

        seconds = [mean_of("seconds", e) for e in edits]
        reached = _quarters([mean_of("z_prob_last", e) for e in edits])
        immediate = _quarters([mean_of("immediate_efficacy", e) for e in edits])
        first_w, last_w = mean_of("mean_abs_w", edits[0]), mean_of("mean_abs_w", edits[-1])
        growth = 100 * (last_w / first_w - 1)
        lines.append(f"| {path.parent.name} | {path.stem} | {len(edits)} | {sum(seconds) / len(seconds):.1f} | "
                     f"{reached[0]:.3f} -> {reached[1]:.3f} | {immediate[0]:.2f} -> {immediate[1]:.2f} | "
                     f"{first_w:.5f} -> {last_w:.5f} ({growth:+.2f}%) |")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="the run's folder (holds results/ and benchmarks/)")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--since", type=float, default=0.0, help="only jobs after this time (seconds since epoch)")
    parser.add_argument("--windows", type=int, default=0, help="rows of this many edits per chain of --dataset")
    parser.add_argument("--dataset", default="zsre")
    args = parser.parse_args(argv)
    totals = job_seconds(args.run, args.since)
    print("| rule | jobs | wall s | cpu s |\n|---|---:|---:|---:|")
    for rule, (n, wall, cpu) in sorted(totals.items(), key=lambda item: -item[1][2]):
        print(f"| {rule} | {n} | {wall:.0f} | {cpu:.0f} |")
    print(f"| all | {sum(t[0] for t in totals.values())} | {sum(t[1] for t in totals.values()):.0f} | "
          f"{sum(t[2] for t in totals.values()):.0f} |\n")
    print("| dataset (- = shared: model, statistics, base model, report) | jobs | wall s | cpu s |\n|---|---:|---:|---:|")
    for dataset, (n, wall, cpu) in sorted(job_seconds(args.run, args.since, by_dataset=True).items()):
        print(f"| {dataset} | {n} | {wall:.0f} | {cpu:.0f} |")
    print()
    print("| dataset | method | edits | mean s/edit | reached p(target), first -> last quarter | immediate efficacy, "
          "first -> last quarter | mean\\|W\\| edit 1 -> last (growth) |\n|---|---|---:|---:|---|---|---|")
    print("\n".join(chain_lines(args.run, args.model)))
    if args.windows:
        print(f"\n| method | edits | reached p(target) | immediate efficacy | mean\\|W\\| at the last edit (growth) | "
              f"s/edit |\n|---|---|---:|---:|---|---:|")
        print("\n".join(window_lines(args.run, args.model, args.dataset, args.windows)))


if __name__ == "__main__":
    main()
