"""Small helpers on a model's modules and weights: find a module or parameter, overwrite weights, read module
inputs/outputs with forward hooks and stop a forward pass early."""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch


class StopForward(Exception):
    """Raised inside a hook to end a forward pass once everything needed is captured."""


def get_module(model: torch.nn.Module, name: str) -> torch.nn.Module:
    for n, m in model.named_modules():
        if n == name:
            return m
    raise LookupError(f"module {name!r} not found in {type(model).__name__}")


def get_parameter(model: torch.nn.Module, name: str) -> torch.nn.Parameter:
    for n, p in model.named_parameters():
        if n == name:
            return p
    raise LookupError(f"parameter {name!r} not found in {type(model).__name__}")


@torch.no_grad()
def set_weights(model: torch.nn.Module, weights: dict) -> None:
    """Copy ``{parameter name: tensor}`` into the model's parameters (device and dtype of the parameter)."""
    params = dict(model.named_parameters())
    for name, value in weights.items():
        if name not in params:
            raise KeyError(f"checkpoint tensor {name!r} is not a parameter of {type(model).__name__}")
        params[name].copy_(value.to(params[name].device, params[name].dtype))


def _first(x):
    return x[0] if isinstance(x, (tuple, list)) else x


@contextlib.contextmanager
def capture(model, inputs: list[str] = (), outputs: list[str] = (), stop_after: str | None = None) -> Iterator[dict]:
    """Record the first positional input of modules in ``inputs`` and the output of those in ``outputs``.

    Yields a dict filled during the forward pass: ``{("in", name): tensor, ("out", name): tensor}``.
    With ``stop_after`` the forward pass raises :class:`StopForward` right after that module ran; call
    :func:`run` to swallow it.
    """
    store: dict = {}
    handles = []
    names = set(inputs) | set(outputs) | ({stop_after} if stop_after else set())
    for name in names:
        module = get_module(model, name)

        def hook(mod, args, out, _name=name):
            if _name in inputs:
                store[("in", _name)] = _first(args).detach()
            if _name in outputs:
                store[("out", _name)] = _first(out).detach()
            if _name == stop_after:
                raise StopForward

        handles.append(module.register_forward_hook(hook))
    try:
        yield store
    finally:
        for h in handles:
            h.remove()


def run(model, **batch) -> None:
    """Run a forward pass, treating :class:`StopForward` as the normal end."""
    try:
        model(**batch)
    except StopForward:
        pass


@contextlib.contextmanager
def add_to_output(model, module_name: str, fn) -> Iterator[None]:
    """Replace the output of ``module_name`` by ``fn(output_tensor)`` (tuple outputs keep their tail)."""
    module = get_module(model, module_name)

    def hook(mod, args, out):
        if isinstance(out, tuple):
            return (fn(out[0]),) + tuple(out[1:])
        return fn(out)

    h = module.register_forward_hook(hook)
    try:
        yield
    finally:
        h.remove()
