"""The ``seqedit`` command ends a successful run without the interpreter's teardown (seqedit.cli.run): the exit
handlers still run, nothing printed is lost, and a failing command keeps its exit status."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from seqedit import cli

SEQEDIT = str(Path(sys.executable).with_name("seqedit"))


def test_run_calls_the_exit_handlers_flushes_and_exits_zero(monkeypatch):
    order = []
    monkeypatch.setattr(cli, "main", lambda argv=None: order.append("main"))
    monkeypatch.setattr(cli.atexit, "_run_exitfuncs", lambda: order.append("exit handlers"))
    monkeypatch.setattr(cli.sys.stdout, "flush", lambda: order.append("flush stdout"))
    monkeypatch.setattr(cli.sys.stderr, "flush", lambda: order.append("flush stderr"))
    monkeypatch.setattr(cli.os, "_exit", lambda code: order.append(f"_exit {code}"))
    cli.run()
    assert order == ["main", "exit handlers", "flush stdout", "flush stderr", "_exit 0"]


def test_the_console_command_is_run():
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert 'seqedit = "seqedit.cli:run"' in text


def test_piped_output_and_exit_handlers_survive(tmp_path):
    """Block-buffered stdout (a pipe, as in the rules' ``> {log}``) and an atexit handler's file both arrive."""
    marker = tmp_path / "atexit.txt"
    code = (f"import atexit, pathlib, sys; from seqedit import cli; "
            f"atexit.register(lambda: pathlib.Path({str(marker)!r}).write_text('ran')); "
            f"sys.argv = ['seqedit', '--help']; cli.run()")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "usage: seqedit <command>" in out.stdout and "edit-metrics" in out.stdout
    assert marker.read_text() == "ran"


def test_a_failing_command_keeps_its_status():
    out = subprocess.run([SEQEDIT, "no-such-command"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "unknown command 'no-such-command'" in out.stderr
    out = subprocess.run([SEQEDIT, "norms"], capture_output=True, text=True, timeout=120)  # argparse: missing args
    assert out.returncode == 2 and "required" in out.stderr
