"""Where a report came from: project commit, machine, software, config.

``collect()`` returns a JSON-serialisable dict. ``footer()`` turns it into the one line printed under every
Markdown table and every figure. CSV tables get a sibling ``{name}.provenance.json`` holding the full dict
(the CSV itself stays a plain table without comment lines).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

from ..files import sha256_file

UNKNOWN = "unknown"


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip()


def git_info(start: str | os.PathLike | None = None) -> dict:
    """Commit and dirty flag of the project: the repository around ``start`` (default: the working directory),
    else the one holding this package. ``commit`` is "unknown" without git or without a commit."""
    candidates = [Path(start) if start else Path.cwd(), Path(__file__).resolve().parent]
    for where in candidates:
        if not where.exists():
            continue
        commit = _git(["rev-parse", "HEAD"], where)
        if commit:
            status = _git(["status", "--porcelain", "--untracked-files=no"], where)
            root = _git(["rev-parse", "--show-toplevel"], where)
            return {"commit": commit, "dirty": bool(status) if status is not None else None, "root": root}
    return {"commit": UNKNOWN, "dirty": None, "root": None}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or UNKNOWN


def torch_info() -> dict:
    """torch version and CUDA device name, without failing when torch (or a GPU) is missing."""
    info = {"torch": None, "cuda": None, "gpu": None}
    try:
        import torch  # noqa: PLC0415
    except Exception:  # pragma: no cover - torch is a dependency, but tolerate its absence
        return info
    info["torch"] = getattr(torch, "__version__", None)
    info["cuda"] = getattr(torch.version, "cuda", None)
    try:
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
            info["gpu_count"] = torch.cuda.device_count()
    except Exception:  # pragma: no cover - broken drivers
        pass
    return info


def config_files(config_path) -> list[dict]:
    """``[{"path", "sha256"}]`` of the config file(s): one path, or a list of them in the order given (Snakemake's
    ``--configfile a b``: b's values override a's). A file that cannot be read gets ``sha256`` None."""
    paths = [] if not config_path else [config_path] if isinstance(config_path, (str, os.PathLike)) else config_path
    files = []
    for path in paths:
        try:
            digest = sha256_file(path)
        except OSError:
            digest = None
        files.append({"path": str(path), "sha256": digest})
    return files


def collect(config_path: str | os.PathLike | list | None = None, config: dict | list | None = None) -> dict:
    """Provenance of a report: git commit (+dirty), hostname, CPU, cores, torch, CUDA device, python, UTC time,
    and the config file's path and sha256 (and the sha256 of ``config``'s canonical JSON when given).

    Several config files (a list): ``config_files`` names each with its sha256, ``config_path`` joins the paths with
    " + " and ``config_sha256`` is the sha256 of their sha256s in order (one file: that file's sha256)."""
    prov: dict = {}
    prov.update(git_info())
    prov["hostname"] = socket.gethostname()
    prov["cpu"] = cpu_model()
    prov["cores"] = os.cpu_count()
    prov["platform"] = platform.platform()
    prov.update(torch_info())
    prov["python"] = platform.python_version()
    prov["python_executable"] = sys.executable
    prov["timestamp_utc"] = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    files = config_files(config_path)
    prov["config_files"] = files
    prov["config_path"] = " + ".join(f["path"] for f in files) if files else None
    prov["config_sha256"] = None
    if len(files) == 1:
        prov["config_sha256"] = files[0]["sha256"]
    elif files and all(f["sha256"] for f in files):
        prov["config_sha256"] = hashlib.sha256("".join(f["sha256"] for f in files).encode()).hexdigest()
    if config is not None:
        canonical = json.dumps(config, sort_keys=True, default=str).encode("utf-8")
        prov["config_dict_sha256"] = hashlib.sha256(canonical).hexdigest()
    return prov


def footer(prov: dict) -> str:
    """One line: config, commit, hardware, time."""
    if prov.get("config_files"):
        cfg = " + ".join(f"{f['path']} (sha256 {f['sha256'][:12]})" if f["sha256"] else f"{f['path']} (unreadable)"
                         for f in prov["config_files"])
    elif prov.get("config_path"):  # a provenance dict written before config_files
        sha = prov.get("config_sha256")
        cfg = f"{prov['config_path']} (sha256 {sha[:12]})" if sha else f"{prov['config_path']} (unreadable)"
    elif prov.get("config_dict_sha256"):
        cfg = f"<in-memory> (sha256 {prov['config_dict_sha256'][:12]})"
    else:
        cfg = "none"
    commit = prov.get("commit") or UNKNOWN
    if commit != UNKNOWN:
        commit = commit[:12] + ("+dirty" if prov.get("dirty") else "")
    hw = f"{prov.get('hostname', UNKNOWN)}, {prov.get('cpu', UNKNOWN)} x{prov.get('cores', '?')}"
    hw += f", {prov['gpu']}" if prov.get("gpu") else ", no GPU"
    sw = f"torch {prov.get('torch') or '-'}, python {prov.get('python', '?')}"
    return f"config: {cfg} | commit: {commit} | hardware: {hw} | {sw} | {prov.get('timestamp_utc', '')}"
