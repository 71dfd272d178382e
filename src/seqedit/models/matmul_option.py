"""The ``cpu_matmul`` setting as commands take it: its values, default, check and command-line option. Torch-free,
so a command's argument errors and the modules that load torch lazily stay as light as before; the layers that
act on it are in :mod:`.cpu_matmul`."""
from __future__ import annotations

BACKENDS = ("onednn", "torch")
DEFAULT = "onednn"


def check(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"cpu_matmul must be one of {', '.join(BACKENDS)}, got {backend!r}")


def add_option(parser) -> None:
    """``--cpu-matmul`` (config key ``cpu_matmul``) on a command's argument parser."""
    parser.add_argument("--cpu-matmul", default=DEFAULT, choices=BACKENDS,
                        help="library of the fp32 linear layers on a CPU (config cpu_matmul; torch = PyTorch's MKL)")
