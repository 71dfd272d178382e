"""The conda environment and the pip requirements list the same packages (and the same pinned versions)."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PIP = {"pytorch": "torch"}
CONDA_ONLY = {"python", "pip"}


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


def pip_packages() -> dict:
    out = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            out.update([_split(line)])
    return out


def test_conda_env_matches_requirements():
    conda, pip = conda_packages(), pip_packages()
    assert set(conda) == set(pip), f"only in conda: {set(conda) - set(pip)}, only in pip: {set(pip) - set(conda)}"
    for name, ver in pip.items():
        assert conda[name] == ver, f"{name}: conda pins {conda[name]}, requirements.txt pins {ver}"


def test_every_rule_uses_the_conda_env():
    for smk in (ROOT / "rules").glob("*.smk"):
        text = smk.read_text()
        n_rules = len(re.findall(r"^rule \w+:", text, flags=re.MULTILINE))
        assert n_rules == text.count('"../envs/seqedit.yaml"'), f"{smk.name}: a rule without conda:"
