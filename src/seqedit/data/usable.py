"""Which normalised requests can be edited and evaluated (the rest are skipped by prepare-data, each with its reason in
the summary): no empty target, answer, paraphrase or locality prompt is evaluated as if it were one."""
from __future__ import annotations


def _blank(x) -> bool:
    return not str(x or "").strip()


def unusable(req: dict) -> str | None:
    """Why a normalised request cannot be edited or evaluated (None: it can). An empty answer, paraphrase or locality
    prompt is never evaluated as if it were one; a CounterFact or zsRE request without any paraphrase or locality
    prompt has no Par or Spe (MQuAKE has neither by design: its questions are checked instead)."""
    if _blank(req.get("target_new")):
        return "empty target_new"
    if req.get("target_true") is not None and _blank(req["target_true"]):
        return "empty target_true"
    if any(_blank(p) for p in req.get("paraphrase_prompts") or []):
        return "empty paraphrase prompt"
    if any(_blank(p) for p in req.get("locality_prompts") or []):
        return "empty locality prompt"
    if any(_blank(a) for a in req.get("locality_answers") or []):
        return "empty locality answer"
    if "requested_rewrites" in req:  # MQuAKE
        if not req.get("questions") or any(_blank(q) for q in req["questions"]):
            return "no multi-hop question" if not req.get("questions") else "empty multi-hop question"
        if _blank(req.get("new_answer")):
            return "empty new_answer"
        return None
    if not req.get("paraphrase_prompts"):
        return "no paraphrase prompt"
    if not req.get("locality_prompts"):
        return "no locality prompt"
    return None
