# MQuAKE-only options of edit_metrics (MQuAKE's prompt file, fetched as data) and the dataset variant each config
# entry edits (named in the report), kept apart from the rule files (`snakemake --lint`).
# For every other dataset edit_metrics keeps exactly EDIT_METRICS_ARGS (no new param, no new input).
from seqedit.data import variants as data_variants
from seqedit.data.registry import MQUAKE as MQUAKE_FORMAT
from seqedit.evaluation.mquake import MQUAKE_PROMPT
from seqedit.evaluation.options import EvalOptions

MQUAKE_CFG = (config.get("evaluation", {}) or {}).get("mquake", {}) or {}
MQUAKE_PROMPT_KIND = MQUAKE_CFG.get("prompt", EvalOptions.mquake_prompt)  # mquake (its file) or handmade
MQUAKE_PROMPT_FALLBACK = MQUAKE_CFG.get("prompt_fallback", EvalOptions.mquake_prompt_fallback)  # fail or handmade
EvalOptions(mquake_prompt=MQUAKE_PROMPT_KIND, mquake_prompt_fallback=MQUAKE_PROMPT_FALLBACK).check()
MQUAKE_PROMPT_FILE = f"resources/prompts/{MQUAKE_PROMPT}.json"


def is_mquake_dataset(dataset):
    return MQUAKE_FORMAT in DATASETS[source_dataset(dataset)].formats


def mquake_prompt_input(w):
    """The prompt record that edit_metrics reads: MQuAKE datasets with `evaluation.mquake.prompt: mquake` only."""
    return [MQUAKE_PROMPT_FILE] if is_mquake_dataset(w.dataset) and MQUAKE_PROMPT_KIND == "mquake" else []


def edit_metrics_params(w):
    """`evaluation` param of edit_metrics: EDIT_METRICS_ARGS, plus MQuAKE's prompt options on MQuAKE datasets."""
    if not is_mquake_dataset(w.dataset):
        return EDIT_METRICS_ARGS
    extra = f" --mquake-prompt {MQUAKE_PROMPT_KIND}"
    if MQUAKE_PROMPT_KIND == "mquake":
        extra += f" --mquake-prompt-file {MQUAKE_PROMPT_FILE}"
    return EDIT_METRICS_ARGS + extra


def prompt_fallback_arg():
    return "--fallback handmade" if MQUAKE_PROMPT_FALLBACK == "handmade" else ""


# {config entry: registry variant} of the entries with variants (CounterFact: EasyEdit's split or ROME's file),
# from the file download-data will fetch (seqedit.data.variants): the report names it in Table 3 and the captions
DATASET_VARIANTS = {
    d: key for d in DATASETS_CFG if (key := data_variants.variant_key(source_dataset(d), MIRROR)) is not None
}
VARIANTS_ARG = " ".join(f"{d}={key}" for d, key in DATASET_VARIANTS.items())
VARIANTS_TEXT = "; ".join(f"{d}: {data_variants.variant_label(key)}" for d, key in DATASET_VARIANTS.items())
