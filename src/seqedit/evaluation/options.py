"""The ``evaluation:`` block of the config as ``seqedit edit-metrics`` options, checked (torch-free: the Snakefile
checks them before any job runs)."""
from __future__ import annotations

from dataclasses import dataclass

from .mquake import FEWSHOT, MATCH_RULES, PROMPT_FALLBACKS, PROMPT_KINDS

PROTOCOLS = ("sequential", "immediate")


@dataclass
class EvalOptions:
    """The ``evaluation:`` block of the config (option names map to config keys in :meth:`check`)."""

    fluency_prompts: int = 10
    fluency_tokens: int = 40
    mquake_tokens: int = 16
    mquake_fewshot: int = 4
    mquake_match: str = "exact"
    seed: int = 0
    # MQuAKE's multi-hop prompt (``mquake``: its file, read from ``mquake_prompt_file``) or ``handmade``
    mquake_prompt: str = "mquake"
    mquake_prompt_file: str | None = None
    mquake_prompt_fallback: str = "fail"  # what the prompt file's download does without MQuAKE's file (config only)

    def check(self) -> None:
        def positive(value, key, minimum=1):
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"config evaluation.{key} must be an integer >= {minimum}, got {value!r}")

        positive(self.fluency_prompts, "fluency.n_prompts", 0)
        positive(self.fluency_tokens, "fluency.max_new_tokens")
        positive(self.mquake_tokens, "mquake.max_new_tokens")
        if isinstance(self.mquake_fewshot, bool) or not isinstance(self.mquake_fewshot, int) \
                or not 0 <= self.mquake_fewshot <= len(FEWSHOT):
            raise ValueError(f"config evaluation.mquake.n_fewshot must be an integer in 0..{len(FEWSHOT)}, "
                             f"got {self.mquake_fewshot!r}")
        if self.mquake_match not in MATCH_RULES:
            raise ValueError(f"config evaluation.mquake.match must be one of {', '.join(MATCH_RULES)}, "
                             f"got {self.mquake_match!r}")
        if self.mquake_prompt not in PROMPT_KINDS:
            raise ValueError(f"config evaluation.mquake.prompt must be one of {', '.join(PROMPT_KINDS)}, "
                             f"got {self.mquake_prompt!r}")
        if self.mquake_prompt_fallback not in PROMPT_FALLBACKS:
            raise ValueError(f"config evaluation.mquake.prompt_fallback must be one of {', '.join(PROMPT_FALLBACKS)}, "
                             f"got {self.mquake_prompt_fallback!r}")


def check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise ValueError(f"config evaluation.protocol: unknown evaluation protocol {protocol!r}; "
                         f"known: {', '.join(PROTOCOLS)}")
