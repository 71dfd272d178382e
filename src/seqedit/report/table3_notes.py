"""What Table 3's numbers are: which protocol each column follows, which CounterFact variant ran (named from the
registry, :mod:`seqedit.data.variants`), and which MQuAKE prompt; what MQuAKE's columns count (cases or rewrites)."""
from __future__ import annotations

from typing import Sequence

from seqedit.data.variants import variant_label

# MQuAKE: a case (one edit of the sequence) applies all of its rewrites; its columns say which they count
T3_MQ_EDITS_HEADER = "Cases edited"
T3_MQ_LEGEND = (
    "Multi-hop = share of MQuAKE cases (%) of which a multi-hop question is answered with the new answer or one of "
    "its aliases, with all of the case's rewrites applied (MQuAKE's multi-hop accuracy); Pre-edit = the same "
    "questions asked of the unedited model, answered with the answer before editing or an alias (% of cases); "
    "Single-hop = accuracy on the edited single hops, one per rewrite (% of rewrites); Cases edited = the number "
    "of edits (each a case with all of its rewrites); Cases / Rewrites / Questions = how many were evaluated."
)
_FINAL_MODEL = "on the model after all k edits (as in the sequential protocol)"


def variant_of(variants: dict[str, str] | None, dataset: str) -> str | None:
    """The label of the CounterFact variant config entry ``dataset`` edited (``variants``: entry -> registry key)."""
    return variant_label((variants or {}).get(dataset))


def section_title(name: str, variant: str | None) -> str:
    return f"{name}: {variant}" if variant else name


def protocol_notes(dataset: str, protocols: Sequence[str]) -> list[str]:
    """Which protocol each column of a Table 3 section follows. Under ``immediate`` the table mixes protocols:
    Eff / Par / Spe / Avg are each request right after its own edit, the other columns are on the final model."""
    if dataset == "mquake":
        return [f"Multi-hop and Single-hop are {_FINAL_MODEL}, whatever evaluation.protocol says; Pre-edit is on "
                "the unedited model."]
    if "immediate" not in protocols:
        return []
    return [f"Protocols mixed (config evaluation.protocol: immediate): Eff / Par / Spe / Avg are each request "
            f"evaluated right after its own edit (immediate protocol); ES / PS / NS / S and Flu. are {_FINAL_MODEL}."]


def prompt_note(prompts: Sequence[str]) -> list[str]:
    """The multi-hop prompt(s) that ran (every MQuAKE result records its own)."""
    found = list(dict.fromkeys(p for p in prompts if isinstance(p, str) and p))
    if not found:
        return []
    return [f"Multi-hop prompt: {'; '.join(found)}."]
