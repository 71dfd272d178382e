"""The report's provenance names every config file of `snakemake --configfile a b` with its sha256 (before, only
the last one: a findings run extended by config/findings_400.yaml recorded findings_400.yaml alone)."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys

from touched_run import ROOT

from seqedit.report.provenance import collect, footer


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_config_files_are_both_recorded(tmp_path):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("seed: 0\n")
    second.write_text("seed: 1\n")
    prov = collect([first, second])
    assert prov["config_files"] == [{"path": str(first), "sha256": _sha(first)},
                                    {"path": str(second), "sha256": _sha(second)}]
    assert prov["config_path"] == f"{first} + {second}"
    assert prov["config_sha256"] == hashlib.sha256((_sha(first) + _sha(second)).encode()).hexdigest()
    line = footer(prov)
    assert f"{first} (sha256 {_sha(first)[:12]}) + {second} (sha256 {_sha(second)[:12]})" in line
    one = collect(first)  # one file: as before
    assert one["config_path"] == str(first) and one["config_sha256"] == _sha(first)
    missing = collect([first, tmp_path / "gone.yaml"])
    assert missing["config_sha256"] is None and "gone.yaml (unreadable)" in footer(missing)


def test_old_provenance_dicts_still_print():
    assert "config: x.yaml (sha256 0123456789ab)" in footer({"config_path": "x.yaml", "config_sha256": "0123456789abcd"})


def test_the_report_rules_pass_every_config_file(tmp_path):
    findings, overlay = ROOT / "config" / "findings.yaml", ROOT / "config" / "findings_400.yaml"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    res = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-p", "--cores", "2", "-s", str(ROOT / "Snakefile"),
                          "-d", str(tmp_path), "--configfile", str(findings), str(overlay)],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    commands = [line for line in out.splitlines()
                if line.startswith(("Shell command: seqedit report ", "Shell command: seqedit report-data "))]
    assert len(commands) == 2, commands
    for command in commands:
        assert f"--config {findings} {overlay} " in command, command
