"""The downstream tasks of the paper (Fig. 2, 3, 6c; Table 4) and how each maps onto lm-eval.

Each config key names one lm-eval task and the headline metric reported for it:

| key            | lm-eval task (online)   | headline metric                     |
|----------------|-------------------------|-------------------------------------|
| arc_challenge  | arc_challenge           | acc_norm                            |
| hellaswag      | hellaswag               | acc_norm                            |
| mmlu           | mmlu (group, 57 tasks)  | acc                                 |
| truthfulqa_mc1 | truthfulqa_mc1          | acc                                 |
| truthfulqa_mc2 | truthfulqa_mc2          | acc                                 |
| winogrande     | winogrande              | acc                                 |
| gsm8k          | gsm8k                   | exact_match, filter ``strict-match`` |

gsm8k: lm-eval scores the generation with two filters, ``strict-match`` (the answer must follow ``#### ``, the
format of the training answers) and ``flexible-extract`` (the last number in the output). Both go into
``all_metrics``; the headline is ``strict-match``, the filter lm-eval's own leaderboard reports for gsm8k.

Offline (a data mirror): the mirror holds one split per task, ``file`` under the mirror root, which stands in for
lm-eval's evaluation split ``split``; few-shot examples come from disjoint items of that file (its last 25 records,
see :mod:`seqedit.downstream.offline`), never from the evaluated ones. The offline ``mmlu`` is a subset (5 of the
57 subjects, 40 test items each): its scores are not MMLU's. ``convert`` names a converter in
:mod:`seqedit.downstream.offline` when the mirror's records differ from the Hugging Face dataset's; without one
the task reads the mirror file as it is.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TaskSpec:
    key: str
    lm_eval_task: str  # task (or group) name in lm-eval's registry
    metric: str
    filter: str  # lm-eval's filter name of the headline metric ("none" for log-likelihood tasks)
    yaml: str  # lm-eval's task file, relative to the lm_eval/tasks folder, that the offline task includes
    file: str  # mirror file, relative to the mirror root
    split: str  # lm-eval's evaluation split that the mirror file stands in for
    convert: str | None = None  # converter name in offline.CONVERTERS, or None: use the mirror file as it is
    overrides: dict = field(default_factory=dict)  # extra YAML keys of the offline task
    offline_label: str = ""  # what the offline data are, written beside every offline score


TASKS: dict[str, TaskSpec] = {
    "arc_challenge": TaskSpec(
        "arc_challenge", "arc_challenge", "acc_norm", "none",
        yaml="arc/arc_challenge.yaml", file="arc_challenge/test_first200.jsonl", split="test",
    ),
    "hellaswag": TaskSpec(
        "hellaswag", "hellaswag", "acc_norm", "none",
        yaml="hellaswag/hellaswag.yaml", file="hellaswag/val_subset_first200.jsonl", split="validation",
    ),
    "mmlu": TaskSpec(
        "mmlu", "mmlu", "acc", "none",
        yaml="mmlu/default/_default_template_yaml", file="mmlu/test_5subjects_first40each.jsonl", split="test",
        convert="mmlu", offline_label="MMLU offline subset: 5 of 57 subjects, 40 test items each",
        # lm-eval writes one task per subject with this description; one task over all subjects renders it per doc
        overrides={"description": "The following are multiple choice questions (with answers) about "
                                  "{{subject.replace('_', ' ')}}.\n\n"},
    ),
    "truthfulqa_mc1": TaskSpec(
        "truthfulqa_mc1", "truthfulqa_mc1", "acc", "none",
        yaml="truthfulqa/truthfulqa_mc1.yaml", file="truthfulqa/mc_task_v0_first200.jsonl", split="validation",
        convert="truthfulqa",
    ),
    "truthfulqa_mc2": TaskSpec(
        "truthfulqa_mc2", "truthfulqa_mc2", "acc", "none",
        yaml="truthfulqa/truthfulqa_mc2.yaml", file="truthfulqa/mc_task_v0_first200.jsonl", split="validation",
        convert="truthfulqa",
    ),
    "winogrande": TaskSpec(
        "winogrande", "winogrande", "acc", "none",
        yaml="winogrande/default.yaml", file="winogrande/dev_first200.jsonl", split="validation",
    ),
    "gsm8k": TaskSpec(
        "gsm8k", "gsm8k", "exact_match", "strict-match",
        yaml="gsm8k/gsm8k.yaml", file="gsm8k/test_first200.jsonl", split="test",
    ),
}

# Per-task options accepted in --tasks-json.
TASK_OPTIONS = {"limit", "num_fewshot", "max_gen_toks"}


def validate_tasks(tasks: dict) -> dict:
    """Check a ``{key: {limit, num_fewshot, max_gen_toks}}`` mapping; return it with options normalised."""
    if not isinstance(tasks, dict) or not tasks:
        raise ValueError("tasks must be a non-empty mapping {task: {limit, num_fewshot, ...}}")
    unknown = [k for k in tasks if k not in TASKS]
    if unknown:
        raise ValueError(f"unknown downstream task(s) {unknown}; known tasks: {sorted(TASKS)}")
    out = {}
    for key, opts in tasks.items():
        opts = dict(opts or {})
        bad = set(opts) - TASK_OPTIONS
        if bad:
            raise ValueError(f"task {key!r}: unknown option(s) {sorted(bad)}; allowed: {sorted(TASK_OPTIONS)}")
        for name in TASK_OPTIONS:
            value = opts.get(name)
            low = 0 if name == "num_fewshot" else 1
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
                raise ValueError(f"task {key!r}: {name} must be an integer >= {low} or null, got {value!r}")
        if opts.get("max_gen_toks") is not None and key != "gsm8k":
            raise ValueError(f"task {key!r}: max_gen_toks only applies to generation tasks (gsm8k)")
        out[key] = opts
    return out
