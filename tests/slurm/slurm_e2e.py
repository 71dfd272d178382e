"""Run the tiny workflow of tests/test_workflow.py locally and through SLURM, and compare (run_slurm_test.sh).

Needs a running SLURM cluster (run_slurm_test.sh starts one). Checks:
- the SLURM run succeeds with `--workflow-profile profiles/slurm` (the profile users run);
- every job except those of the Snakefile's `localrules` went through SLURM: one plugin log per job, and each of
  those SLURM job ids is COMPLETED in the cluster's job completion file, with the time limit the config gave its rule;
- both runs made the same set of result files, and the same values: edited tensors, edit logs, metrics,
  downstream scores, norms, statistics, table CSVs (timings and paths ignored); figures exist in both.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import CACHE, MIRROR  # noqa: E402  (the same model cache and data mirror as the test suite)
from tiny_workflow import tiny_config as tiny_workflow_config  # noqa: E402

VOLATILE_KEYS = {"time", "date", "created"}  # and keys naming seconds, timestamps, elapsed times (timings, clocks)


def volatile(key) -> bool:
    key = str(key)
    return key in VOLATILE_KEYS or any(s in key for s in ("seconds", "timestamp", "elapsed")) \
        or key.endswith(("_time", "_date"))
RTOL, ATOL = 1e-5, 1e-7
LAYER_STATS_RUNTIME = 20  # minutes: a per-rule override, checked in SLURM's record of the job
GPU_RULES = {"layer_stats", "edit", "edit_metrics", "edit_metrics_base", "downstream_base",
             "downstream"}  # resources.gpu_rules
MEM_MB = {"gpu_rules": 3000, "cpu_rules": 1000}
THREADS = {"edit": 1, "downstream": 1, "stats": 2}  # as config.yaml; the 2-CPU node runs two 1-thread jobs at once


def tiny_config(work: Path) -> Path:
    """The config of test_workflow.tiny_run (same model, data, methods, checkpoints, hparams), light resources."""
    from seqedit.models.convert import prepare_model

    model_dir = CACHE / "models" / "smollm2-135m"
    if not (model_dir / "config.json").exists():
        prepare_model("smollm2-135m", model_dir)
    return tiny_workflow_config(
        work, model_dir, MIRROR, threads=THREADS,
        resources={"gpu_rules": {"gpu": 0, "mem_mb": MEM_MB["gpu_rules"], "runtime": 30},
                   "cpu_rules": {"mem_mb": MEM_MB["cpu_rules"], "runtime": 10},
                   "rules": {"layer_stats": {"runtime": LAYER_STATS_RUNTIME}}},
    )


def snakemake(workdir: Path, config: Path, *extra: str, env: dict | None = None, timeout: int = 2400):
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
           "--configfile", str(config), *extra]
    t0 = time.time()
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout, env=env)
    out = res.stdout + res.stderr
    (workdir / "snakemake.out").write_text(out)
    if res.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}\n{out[-6000:]}")
    return out, time.time() - t0


def job_stats(out: str) -> Counter:
    """The 'Job stats' table of a Snakemake run (rule -> count)."""
    counts: Counter = Counter()
    lines = out.splitlines()
    start = max(i for i, line in enumerate(lines) if line.strip().startswith("job ") and "count" in line)
    for line in lines[start + 2:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


def jobcomp_records(path: Path) -> dict[str, dict]:
    """SLURM's job completion file (jobcomp/filetxt): one line of key=value per finished job."""
    recs = {}
    for line in path.read_text().splitlines():
        fields = dict(m.groups() for m in re.finditer(r"(\w+)=(\S*)", line))
        if "JobId" in fields:
            recs[fields["JobId"]] = fields
    return recs


def snakefile_localrules() -> set[str]:
    """The rules the Snakefile runs on the submitting host (its `localrules:` directive)."""
    m = re.search(r"^localrules:(.*\n(?:[ \t]+\w+,?[ \t]*\n)*)", (ROOT / "Snakefile").read_text(), flags=re.MULTILINE)
    return set(re.findall(r"\w+", m.group(1))) if m else set()


def check_slurm_jobs(workdir: Path, local_counts: Counter, jobcomp: Path, partition: str, threads: dict) -> int:
    logs = sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))
    per_rule: Counter = Counter()
    ids = {}
    for log in logs:
        rule = next(p for p in log.relative_to(workdir / ".snakemake" / "slurm_logs").parts if p.startswith("rule_"))
        per_rule[rule[len("rule_"):]] += 1
        ids[log.stem] = rule[len("rule_"):]
    local_rules = snakefile_localrules()
    want = Counter({r: n for r, n in local_counts.items() if r not in local_rules})
    assert per_rule == want, f"SLURM jobs per rule {dict(per_rule)} != local jobs {dict(want)}"
    # the completion file is written when a job ends: give the last one a moment
    for _ in range(30):
        recs = jobcomp_records(jobcomp) if jobcomp.exists() else {}
        if all(i in recs for i in ids):
            break
        time.sleep(1)
    missing = [i for i in ids if i not in recs]
    assert not missing, f"SLURM job ids of the plugin logs not in {jobcomp}: {missing}"
    for job_id, rule in ids.items():
        rec = recs[job_id]
        assert rec.get("JobState") == "COMPLETED", f"SLURM job {job_id} ({rule}): {rec}"
        assert rec.get("Partition") == partition, f"SLURM job {job_id} ({rule}) ran in {rec.get('Partition')}"
        assert rec.get("WorkDir") == str(workdir), f"SLURM job {job_id} ({rule}) ran in {rec.get('WorkDir')}"
        # the config's resources reached sbatch: memory per class, CPUs = the rule's threads, per-rule time limit
        tres = dict(kv.split("=", 1) for kv in rec.get("Tres", "").split(",") if "=" in kv)
        mem = MEM_MB["gpu_rules" if rule in GPU_RULES else "cpu_rules"]
        assert tres.get("mem") == f"{mem}M", f"SLURM job {job_id} ({rule}): memory {tres.get('mem')}, want {mem}M"
        assert rec.get("ProcCnt") == str(threads.get(rule, 1)), f"SLURM job {job_id} ({rule}): {rec.get('ProcCnt')} CPUs"
        if rule == "layer_stats":
            assert rec.get("TimeLimit") == str(LAYER_STATS_RUNTIME), f"layer_stats time limit: {rec}"
    return len(ids)


def same_value(a, b, where: str) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        ka = {k for k in a if not volatile(k)}
        kb = {k for k in b if not volatile(k)}
        assert ka == kb, f"{where}: keys differ: {sorted(ka ^ kb)}"
        for k in ka:
            same_value(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{where}: lengths {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            same_value(x, y, f"{where}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL) or (math.isnan(a) and math.isnan(b)), \
            f"{where}: {a} != {b}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def compare_results(local: Path, remote: Path) -> dict:
    import pandas as pd
    import torch
    from safetensors.torch import load_file

    def files(root: Path) -> set:
        return {p.relative_to(root) for p in (root / "results").rglob("*")
                if p.is_file() and p.name != ".snakemake_timestamp"}

    files_l, files_r = files(local), files(remote)
    assert files_l == files_r, f"result files differ: only local {sorted(files_l - files_r)}, " \
                               f"only SLURM {sorted(files_r - files_l)}"
    kinds: Counter = Counter()
    exact = 0  # files whose tensors are all bit for bit equal (headers may differ: they name input paths)
    for rel in sorted(files_l):
        a, b = local / rel, remote / rel
        assert b.stat().st_size > 0, f"{rel}: empty"
        if rel.suffix == ".safetensors":
            ta, tb = load_file(str(a)), load_file(str(b))
            assert ta.keys() == tb.keys(), f"{rel}: tensors {sorted(ta)} != {sorted(tb)}"
            equal = True
            for k in ta:
                assert ta[k].shape == tb[k].shape and ta[k].dtype == tb[k].dtype, f"{rel}:{k}"
                if torch.equal(ta[k], tb[k]):
                    continue
                equal = False
                assert torch.allclose(ta[k].double(), tb[k].double(), rtol=RTOL, atol=ATOL), \
                    f"{rel}:{k}: max |diff| {(ta[k].double() - tb[k].double()).abs().max().item()}"
            exact += equal
        elif rel.suffix == ".json":
            same_value(json.loads(a.read_text()), json.loads(b.read_text()), str(rel))
        elif rel.suffix == ".jsonl":
            assert a.read_text() == b.read_text(), f"{rel} differs"
        elif rel.suffix == ".csv":
            da, db = pd.read_csv(a), pd.read_csv(b)
            keep = [c for c in da.columns if not volatile(c)]
            pd.testing.assert_frame_equal(da[keep], db[keep], check_exact=False, rtol=RTOL, atol=ATOL, obj=str(rel))
        kinds[rel.suffix] += 1
    return {"files": len(files_l), "by_type": dict(kinds), "safetensors_with_identical_tensors": exact}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--jobcomp", type=Path, required=True, help="the cluster's JobCompLoc (jobcomp/filetxt)")
    ap.add_argument("--partition", default="debug")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    config = tiny_config(a.work)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "SEQEDIT_SLURM_PARTITION": a.partition}

    local = a.work / "local"
    local.mkdir(exist_ok=True)
    out, _ = snakemake(local, config, "-n", "--forceall", "--quiet", "rules", env=env)
    local_counts = job_stats(out)  # every job of the DAG (a local run left from before only runs what is missing)
    out, t_local = snakemake(local, config, "--cores", "2", env=env)
    print(f"local run: {sum(local_counts.values())} jobs in {t_local:.0f} s", flush=True)

    remote = a.work / "slurm"
    remote.mkdir(exist_ok=True)
    # the profile users run; on this 2-CPU node: 2 jobs at a time, a status check 2 s after each finish,
    # no SLURM account (no accounting database here)
    out, t_slurm = snakemake(remote, config, "--workflow-profile", str(ROOT / "profiles" / "slurm"),
                             "--jobs", "2", "--slurm-no-account", "--slurm-init-seconds-before-status-checks", "2",
                             env=env)
    assert "executor: slurm" in out.lower() or "slurm" in out.lower(), out[-2000:]
    slurm_counts = job_stats(out)
    assert slurm_counts == local_counts, f"job stats differ: local {dict(local_counts)}, SLURM {dict(slurm_counts)}"
    threads = {"layer_stats": THREADS["stats"], "edit": THREADS["edit"], "edit_metrics": THREADS["edit"],
               "edit_metrics_base": THREADS["edit"], "downstream": THREADS["downstream"],
               "downstream_base": THREADS["downstream"]}
    n_slurm = check_slurm_jobs(remote, local_counts, a.jobcomp, a.partition, threads)
    print(f"SLURM run: {sum(slurm_counts.values())} jobs ({n_slurm} through sbatch, all COMPLETED) in "
          f"{t_slurm:.0f} s", flush=True)

    summary = compare_results(local, remote)
    print(f"outputs match: {json.dumps(summary)}")
    (a.work / "summary.json").write_text(json.dumps({"local_seconds": t_local, "slurm_seconds": t_slurm,
                                                     "slurm_jobs": n_slurm, **summary}, indent=1))


if __name__ == "__main__":
    main()
