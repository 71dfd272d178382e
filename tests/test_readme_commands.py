"""Every command line that README.md's code blocks (and config.yaml's comments) show works: each `snakemake` line is
dry-run (`-n`) in a fresh folder laid out like a clone; the lines that cannot be dry-run offline are listed below
with the reason. `--config` overrides are typed and replace the config file's key (seqedit.config_overrides)."""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from seqedit.config_overrides import command_line_config

ROOT = Path(__file__).resolve().parents[1]
CLONE_ENTRIES = ("Snakefile", "config.yaml", "config", "rules", "profiles", "envs")

NOT_DRY_RUN = {
    "make workflow": "installs into .venv and runs the whole default workflow (about 45 minutes)",
    "make test": "runs this test suite",
    "snakemake --report report.html": "renders the HTML report from a finished run's outputs (none in a dry run)",
}
NOT_COMMANDS = ("export ",)  # setting optional environment variables (SLURM partition/account)


def readme_lines() -> list[str]:
    text = (ROOT / "README.md").read_text()
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        for line in block.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def config_yaml_commands() -> list[str]:
    return [m.strip() for m in re.findall(r"^#\s+(snakemake .*)$", (ROOT / "config.yaml").read_text(), re.MULTILINE)]


def command(line: str) -> str:
    """The command without its trailing comment."""
    return shlex.join(shlex.split(line, comments=True))


def dry_runnable() -> list[str]:
    cmds = [command(line) for line in readme_lines() + config_yaml_commands()]
    return [c for c in cmds if c.startswith("snakemake") and c not in NOT_DRY_RUN]


def test_every_readme_line_is_dry_run_or_skipped_with_a_reason():
    for line in readme_lines():
        cmd = command(line)
        assert cmd.startswith("snakemake") or cmd in NOT_DRY_RUN or cmd.startswith(NOT_COMMANDS), line
    assert len(dry_runnable()) >= 10  # the README shows at least this many snakemake lines
    for cmd in NOT_DRY_RUN:  # the skip list names only commands the README still shows
        assert cmd in [command(line) for line in readme_lines()], cmd


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("clone")
    for name in CLONE_ENTRIES:
        (folder / name).symlink_to(ROOT / name)
    return folder


@pytest.mark.parametrize("cmd", dry_runnable())
def test_documented_command_dry_runs(clone, cmd):
    args = shlex.split(cmd)[1:]
    res = subprocess.run([sys.executable, "-m", "snakemake", *args, "-n", "--quiet", "rules"], cwd=clone,
                         capture_output=True, text=True, timeout=600)
    out = res.stdout + res.stderr
    assert res.returncode == 0, f"{cmd}\n{out[-4000:]}"
    assert "Job stats:" in out or "Nothing to be done" in out, out[-2000:]


def test_command_line_values_are_typed_and_replace_the_key(clone):
    assert command_line_config({"checkpoints": ["50", "100"], "datasets": {"zsre": {"n_requests": "20"}},
                                "hparams_set": "tuned", "data_mirror": "null", "device": "cuda:0"}) == {
        "checkpoints": [50, 100], "datasets": {"zsre": {"n_requests": 20}}, "hparams_set": "tuned",
        "data_mirror": None, "device": "cuda:0"}
    res = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--config",
                          "methods=[rome]", "datasets={zsre: {n_requests: 4}}", "checkpoints=[2,4]"], cwd=clone,
                         capture_output=True, text=True, timeout=600)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    jobs = {p[0]: int(p[1]) for p in (line.split() for line in out.split("Job stats:")[1].splitlines())
            if len(p) == 2 and p[1].isdigit()}
    assert jobs["edit"] == 2 and jobs["prepare_data"] == 1  # zsRE alone (not merged with the default datasets)
