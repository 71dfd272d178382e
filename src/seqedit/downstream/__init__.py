"""Downstream ability (arc_challenge, hellaswag, mmlu, truthfulqa_mc1/2, winogrande, gsm8k) with lm-eval.

- :mod:`.specs`: task keys, the lm-eval task and headline metric of each;
- :mod:`.offline`: task YAMLs over the data mirror that include lm-eval's own task files;
- :mod:`.lmeval`: one ``simple_evaluate`` call on an in-memory (possibly edited) model;
- :mod:`.cli`: ``seqedit downstream``.
"""
from .specs import TASKS, validate_tasks

__all__ = ["TASKS", "validate_tasks", "evaluate_model", "run_downstream"]


def __getattr__(name):  # lazy: importing lm_eval pulls in datasets, which must see the cache settings first
    if name in ("evaluate_model", "run_downstream"):
        from . import lmeval

        return getattr(lmeval, name)
    raise AttributeError(name)
