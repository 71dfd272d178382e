"""The jobs' conda environment holds the package's runtime requirements: the same packages as pyproject.toml's
dependencies and the first (runtime) part of requirements.txt, with the same pins; the workflow driver and the
development tools (snakemake, its SLURM plugin, pytest, snakefmt) are only in the second part."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PIP = {"pytorch": "torch"}
CONDA_ONLY = {"python", "pip"}
DRIVER_ONLY = {"snakemake", "snakemake-executor-plugin-slurm", "pytest", "snakefmt", "jsonschema"}
DRIVER_MARKER = "# --- workflow driver"


def _split(spec: str) -> tuple[str, str | None]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:={1,2}\s*([^\s#]+))?", spec)
    return m.group(1).lower().replace("_", "-"), m.group(2)


def conda_packages() -> dict:
    env = yaml.safe_load((ROOT / "envs" / "seqedit.yaml").read_text())
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            name, ver = _split(dep)
            if name not in CONDA_ONLY:
                out[CONDA_TO_PIP.get(name, name)] = ver
    return out


def pip_packages(part: str = "runtime") -> dict:
    """requirements.txt before the driver marker line (``runtime``) or after it (``driver``)."""
    runtime, _, driver = (ROOT / "requirements.txt").read_text().partition(DRIVER_MARKER)
    out = {}
    for line in (runtime if part == "runtime" else driver.partition("\n")[2]).splitlines():
        line = line.split("#")[0].strip()
        if line:
            out.update([_split(line)])
    return out


def package_requirements() -> set[str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {_split(d)[0] for d in deps}


def test_conda_env_matches_the_runtime_requirements():
    conda, pip = conda_packages(), pip_packages()
    assert set(conda) == set(pip), f"only in conda: {set(conda) - set(pip)}, only in pip: {set(pip) - set(conda)}"
    for name, ver in pip.items():
        assert conda[name] == ver, f"{name}: conda pins {conda[name]}, requirements.txt pins {ver}"


def test_conda_env_holds_the_package_requirements():
    assert set(conda_packages()) == package_requirements()


def test_the_driver_and_dev_tools_stay_out_of_the_jobs_env():
    driver = pip_packages("driver")
    assert set(driver) == DRIVER_ONLY, set(driver) ^ DRIVER_ONLY
    assert not DRIVER_ONLY & set(conda_packages())
    assert not DRIVER_ONLY & package_requirements()


def test_every_rule_that_runs_a_command_uses_the_conda_env():
    """Every rule with a shell command runs in envs/seqedit.yaml (a target rule, inputs only, runs nothing)."""
    for smk in (ROOT / "rules").glob("*.smk"):
        for block in re.split(r"^rule ", smk.read_text(), flags=re.MULTILINE)[1:]:
            name = block.split(":")[0]
            if re.search(r"^    (shell|run|script):", block, flags=re.MULTILINE):
                assert '"../envs/seqedit.yaml"' in block, f"{smk.name}: rule {name} has no conda:"
