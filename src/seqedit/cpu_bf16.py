"""Does this CPU compute bfloat16 natively? Where it does not (e.g. an AVX2-only AMD EPYC), PyTorch emulates bf16
matrix products, and a bf16 forward pass is several times slower than float32 (measured on a 2-core AMD EPYC VM,
AVX2, 2 threads: the layer statistics of SmolLM2-135M over 4,096 tokens 23.2 s in bf16 against 4.6 s in float32;
over 100k tokens 530 s in bf16, against 23 s in bf16 on the Intel Xeon VM with AMX). The configured dtype is part
of a result's key, so it is never switched silently: the job only warns, naming the config key."""
from __future__ import annotations

import sys
from pathlib import Path

NATIVE_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str] | None:
    """The CPU's feature flags (Linux), or None where they cannot be read."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return None


def warn_if_emulated(dtype: str, device: str, config_key: str, flags: set[str] | None = None) -> str | None:
    """Print (to stderr) and return a warning when ``dtype`` is bfloat16 on a CPU without native bf16."""
    if dtype != "bfloat16" or not str(device).startswith("cpu"):
        return None
    flags = cpu_flags() if flags is None else flags
    if flags is None or any(f in flags for f in NATIVE_FLAGS):
        return None
    message = (f"warning: {config_key}: bfloat16 on a CPU without native bf16 ({' / '.join(NATIVE_FLAGS)} absent): "
               "PyTorch emulates it, so this job runs ~5x slower than in float32 (SmolLM2-135M's statistics on an "
               "AVX2 AMD EPYC: 530 s against ~110 s); float32 changes the result's key (a rerun)")
    print(message, file=sys.stderr)
    return message
