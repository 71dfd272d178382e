"""A finished-looking run of the tiny workflow without computing anything: every output of the DAG is created
empty and `snakemake --touch` records it as made with the current config (its params, inputs and code), so a
dry run afterwards shows exactly which jobs a config change makes Snakemake plan again."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIRECTORY_RULES = {"model", "layer_stats"}  # rules whose output is a directory()


def snakemake(workdir: Path, config: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
           "--configfile", str(config), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)


def touch_run(workdir: Path, config: Path) -> None:
    summary = snakemake(workdir, config, "--summary")
    assert summary.returncode == 0, summary.stderr[-3000:]
    for line in summary.stdout.splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) < 3:
            continue
        path, rule = workdir / fields[0], fields[2]
        if rule in DIRECTORY_RULES:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    res = snakemake(workdir, config, "--touch", "--forceall", "--cores", "1")  # every job records its metadata
    assert res.returncode == 0, res.stderr[-3000:]
    again = snakemake(workdir, config, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr, again.stdout[-3000:]


def planned_jobs(workdir: Path, config: Path) -> dict[str, int]:
    """Jobs per rule that a dry run plans (empty when nothing is to be done)."""
    res = snakemake(workdir, config, "-n", "--quiet", "rules")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    counts = {}
    for line in out.split("Job stats:")[-1].splitlines() if "Job stats:" in out else []:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts
