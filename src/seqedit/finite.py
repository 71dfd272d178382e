"""Non-finite values (NaN, inf) stop the run where they appear instead of flowing into norms, metrics and tables.

- :func:`check_edit` runs after every edit: the edited weights and the logged values (z-probabilities) must be
  finite, else :class:`NonFiniteEditError` names the method, the edit, the request and the hyperparameter set;
- :func:`nonfinite_tensors` lets checkpoint loading refuse a checkpoint holding such values.
"""
from __future__ import annotations

import math
from numbers import Real

import torch


class NonFiniteEditError(FloatingPointError):
    """An edit produced NaN or inf in a weight or a logged value."""


def nonfinite_tensors(tensors: dict[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors holding NaN or inf."""
    return [name for name, t in tensors.items()
            if (t.is_floating_point() or t.is_complex()) and not bool(torch.isfinite(t).all())]


def nonfinite_values(record: dict) -> list[str]:
    """Keys of the numbers in a log record (one level deep) that are NaN or inf."""
    return [key for key, value in record.items()
            if isinstance(value, Real) and not isinstance(value, bool) and not math.isfinite(float(value))]


def check_edit(weights: dict[str, torch.Tensor], out: dict, *, method: str, edit_index: int, request_id,
               hparams_set: str | None) -> None:
    """Raise :class:`NonFiniteEditError` if the weights after an edit or the values it logged are not finite."""
    bad = [f"weight {name}" for name in nonfinite_tensors(weights)]
    bad += [f"logged value {key}={out[key]}" for key in nonfinite_values(out)]
    if bad:
        where = f"hyperparameter set {hparams_set!r}" if hparams_set else "its hyperparameters"
        raise NonFiniteEditError(
            f"{method}: edit {edit_index} (request {request_id!r}) produced non-finite values in "
            f"{', '.join(bad)}; check {where} (e.g. kl_factor, v_lr, mom2_update_weight) and the dtype")
