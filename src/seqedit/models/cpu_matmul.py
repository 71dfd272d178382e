"""Which library runs the model's fp32 linear layers on the CPU (config key ``cpu_matmul``).

PyTorch's CPU build sends an fp32 ``F.linear`` to MKL. On AMD processors MKL does not use AVX-512, and the
products of the value optimisation (a few dozen rows against a weight streamed from memory) run 1.75-2.6x slower
there than the same products through oneDNN, which PyTorch also ships (``benchmarks/bench_gemm.py``, results/README).
``onednn`` swaps every ``nn.Linear`` of a loaded model for :class:`OneDnnLinear`, a subclass whose forward and
input gradient call oneDNN on the same, unpacked weight (no copy is kept); ``torch`` leaves PyTorch's choice.

The two give the same products to float round-off (~1e-6 relative), not bit for bit, so the choice is a tracked
parameter of every rule that loads a model. Anything the fast path does not cover falls back to ``F.linear``:
another device or dtype, a weight or bias that needs its own gradient (FT's training), an empty input.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .matmul_option import check


def _onednn(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x.contiguous(), weight, bias, "none", [], "")


class _LinearFunction(torch.autograd.Function):
    """``x @ weight.T + bias`` with the gradient for ``x`` only (the weight and bias are constants here)."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(weight)
        return _onednn(x, weight, bias)

    @staticmethod
    def backward(ctx, grad):
        (weight,) = ctx.saved_tensors
        return _onednn(grad, weight.t(), None), None, None


def _covered(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> bool:
    return (x.device.type == "cpu" and x.dtype == weight.dtype == torch.float32 and x.numel() > 0
            and not weight.requires_grad and (bias is None or not bias.requires_grad))


class OneDnnLinear(torch.nn.Linear):
    """An ``nn.Linear`` (same parameters, same state dict) whose fp32 CPU products go through oneDNN."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _covered(x, self.weight, self.bias):
            return F.linear(x, self.weight, self.bias)
        if torch.is_grad_enabled() and x.requires_grad:
            return _LinearFunction.apply(x, self.weight, self.bias)
        return _onednn(x, self.weight, self.bias)


def available() -> bool:
    return bool(torch.backends.mkldnn.is_available())


def use_backend(model: torch.nn.Module, backend: str) -> int:
    """Route ``model``'s linear layers through ``backend``; returns how many layers were swapped."""
    check(backend)
    target = OneDnnLinear if backend == "onednn" and available() else torch.nn.Linear
    swapped = 0
    for module in model.modules():
        if type(module) in (torch.nn.Linear, OneDnnLinear) and type(module) is not target:
            module.__class__ = target
            swapped += 1
    return swapped
