"""The content keys of the mirror files each rule reads (its tracked ``source`` param): the sha256 of the registry
entry's mirror file when the mirror has it, else the canonical location. Used by the rules only."""
from __future__ import annotations

from .mirror import content_key


def dataset_key(root: str | None, name: str) -> str:
    from .data.registry import get_dataset_spec

    spec = get_dataset_spec(name)
    return content_key(root, spec.mirror_files, "url:" + " ".join(spec.urls))


def corpus_key(root: str | None, name: str) -> str:
    from .data.registry import CORPORA

    spec = CORPORA[name]
    candidates = [spec.mirror.path] if spec.mirror is not None else []
    return content_key(root, candidates, f"hub:{spec.hf}")


def tasks_key(root: str | None, tasks) -> str:
    """One key over the mirror files of the downstream tasks (``online`` when there is no mirror)."""
    from .downstream.specs import TASKS

    if not root:
        return "online"
    return ";".join(f"{key}={content_key(root, [TASKS[key].file], 'absent')}" for key in sorted(tasks))


def prompt_key(root: str | None, name: str) -> str:
    from .data.registry import get_prompt_spec

    spec = get_prompt_spec(name)
    return content_key(root, spec.mirror_files, "url:" + " ".join(spec.urls))
