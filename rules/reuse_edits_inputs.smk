# Config `datasets.<name>.edits_from: <other entry>`: an entry whose edit requests are another entry's takes that
# entry's checkpoints (rule reuse_edits, `seqedit reuse-edits`) instead of editing the same chain again; its
# evaluations run on its own requests. Checked here, with the key's name, before any job runs.
import re


def edits_from(dataset):
    """The entry whose checkpoints `dataset` reuses, or None (it is edited itself)."""
    return DATASETS_CFG[dataset].get("edits_from")


def _check_edits_from():
    for dataset in DATASETS_CFG:
        source = edits_from(dataset)
        if source is None:
            continue
        key = f"config datasets.{dataset}.edits_from"
        if source not in DATASETS_CFG or source == dataset:
            others = ", ".join(d for d in DATASETS_CFG if d != dataset)
            raise ValueError(f"{key}: {source!r} is not another dataset entry of the config ({others})")
        if edits_from(source) is not None:
            raise ValueError(f"{key}: {source!r} reuses the edits of {edits_from(source)!r} itself; name that one")
        for what, mine, theirs in (
            ("models", models_for(dataset), models_for(source)),
            ("methods", methods_for(dataset), methods_for(source)),
            ("checkpoints", steps_for(dataset), steps_for(source)),
        ):
            missing = [x for x in mine if x not in theirs]
            if missing:
                raise ValueError(
                    f"{key}: {source!r} has no {what} {missing} (its {what}: {theirs}); every {what[:-1]} of "
                    f"{dataset!r} must be one of {source!r}'s, or remove edits_from"
                )


_check_edits_from()


def _dataset_pattern(names):
    """Regex matching exactly these entry names (none: a pattern that matches nothing)."""
    return "|".join(re.escape(n) for n in names) if names else "(?!x)x"


EDITED_DATASETS = _dataset_pattern([d for d in DATASETS_CFG if edits_from(d) is None])
REUSED_DATASETS = _dataset_pattern([d for d in DATASETS_CFG if edits_from(d) is not None])


def reuse_edits_inputs(w):
    source = edits_from(w.dataset)
    return {
        "weights": ckpt(w.model, source, w.method, w.step),
        "meta": ckpt(w.model, source, w.method, w.step).replace(".safetensors", ".json"),
        "source_requests": f"results/data/{source}.jsonl",
        "requests": f"results/data/{w.dataset}.jsonl",
    }
