"""``seqedit downstream``: lm-eval downstream tasks on the base model or on an edit checkpoint."""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from ..mirror import mirror_root
from ..models import matmul_option
from .specs import TASKS


def parse_tasks(value: str) -> dict:
    """``--tasks-json``: a JSON object, or the path of a file holding one."""
    text = value if value.lstrip().startswith("{") else Path(value).read_text(encoding="utf-8")
    tasks = json.loads(text)
    if not isinstance(tasks, dict):
        raise ValueError("--tasks-json must be a JSON object {task: {limit, num_fewshot, max_gen_toks}}")
    return tasks


def cli(command: str, argv: list[str]) -> None:
    p = argparse.ArgumentParser(
        prog=f"seqedit {command}",
        description="Evaluate a model (optionally with an edit checkpoint applied in memory) with lm-eval.",
    )
    p.add_argument("--model-dir", required=True, help="base model, Hugging Face folder")
    p.add_argument("--checkpoint", default=None, help="edit checkpoint step_{k}.safetensors (omit: base model)")
    p.add_argument("--tasks-json", required=True,
                   help=f"JSON object (or file) {{task: {{limit, num_fewshot, max_gen_toks}}}}; tasks: {sorted(TASKS)}")
    p.add_argument("--mirror", default=None, help="data mirror root: run offline on its task files (default: "
                   "$SEQEDIT_MIRROR_DIR, set by the workflow from config data_mirror; neither: online)")
    p.add_argument("--work-dir", required=True, help="generated task YAMLs, converted data and HF/lm-eval caches")
    p.add_argument("--out", required=True, help="output JSON")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--device", default="auto")
    matmul_option.add_option(p)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("-v", "--verbose", action="store_true", help="keep lm-eval's INFO logging")
    a = p.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not a.verbose:
        for name in ("lm_eval", "lm-eval", "datasets", "transformers"):
            logging.getLogger(name).setLevel(logging.WARNING)

    from .lmeval import run_downstream

    result = run_downstream(
        a.model_dir, parse_tasks(a.tasks_json), a.work_dir, a.out, checkpoint=a.checkpoint,
        mirror=mirror_root(a.mirror),
        dtype=a.dtype, device=a.device, batch_size=a.batch_size, seed=a.seed, cpu_matmul=a.cpu_matmul,
    )
    summary = ", ".join(f"{k}={v['value']:.3f}" for k, v in result["tasks"].items() if v["value"] is not None)
    print(f"downstream ({result['n_edits']} edits, {result['seconds']:.1f} s): {summary}")
