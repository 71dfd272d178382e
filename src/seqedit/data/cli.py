"""``seqedit download-data | prepare-data | build-mqd | corpus``."""
from __future__ import annotations

import argparse
import json

from ..mirror import mirror_root
from .registry import CORPORA, DATASETS, PROMPTS, UnknownNameError


def cli(command: str, argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog=f"seqedit {command}")
    if command == "download-data":
        p.description = ("fetch a raw dataset file or a prompt file: copy it from a data mirror, else download its "
                         "canonical URL")
        which = p.add_mutually_exclusive_group(required=True)
        which.add_argument("--dataset", help=f"one of: {', '.join(sorted(DATASETS))}")
        which.add_argument("--prompt", help=f"a prompt file, one of: {', '.join(sorted(PROMPTS))} (output: JSON)")
        p.add_argument("--fallback", choices=["handmade"], default=None,
                       help="with --prompt: when no location works, write an 'unavailable' record instead of failing")
        p.add_argument("--out", required=True, help="output file, e.g. resources/data/NAME.json")
        p.add_argument("--mirror", default=None, help="local data mirror folder, tried before the URL (default: "
                       "$SEQEDIT_MIRROR_DIR, set by the workflow from config data_mirror)")
        p.add_argument("--timeout", type=float, default=60.0, help="download timeout in seconds")
        p.add_argument("--no-download", action="store_true", help="never go online")
        a = p.parse_args(argv)
        if a.prompt:
            from .prompt_files import download_prompt

            rec = _run(download_prompt, a.prompt, a.out, mirror_root(a.mirror), timeout=a.timeout,
                       allow_download=not a.no_download, fallback=a.fallback)
            rec = {k: v for k, v in rec.items() if k != "text"}
        else:
            if a.fallback:
                p.error("--fallback goes with --prompt")
            from .fetch import download_dataset

            rec = _run(download_dataset, a.dataset, a.out, mirror_root(a.mirror), timeout=a.timeout,
                       allow_download=not a.no_download)
    elif command == "prepare-data":
        p.description = "normalise the records of a raw dataset (all, or the first N) into edit requests (JSON lines)"
        p.add_argument("--dataset", required=True, help=f"one of: {', '.join(sorted(DATASETS))}")
        p.add_argument("--raw", required=True, help="raw file written by download-data")
        p.add_argument("--n", type=int, default=None, help="keep only the first N usable records (default: all)")
        p.add_argument("--out", required=True, help="output JSONL, e.g. results/data/NAME.jsonl")
        a = p.parse_args(argv)
        from .normalize import prepare_dataset

        skipped: dict = {}
        reqs = _run(prepare_dataset, a.dataset, a.raw, a.n, a.out, skipped=skipped)
        # the summary (the job's log): how many records were left out, and each one's index, id and reason
        rec = {"dataset": a.dataset, "requests": len(reqs), "path": a.out, "skipped": len(skipped),
               "skipped_records": [{"record": i, **why} for i, why in sorted(skipped.items())]}
    elif command == "build-mqd":
        p.description = "build an MQD question form (our rebuild of the paper's Multi-Question Dataset) as requests"
        p.add_argument("--dataset", required=True, help="mqd_tf, mqd_mc or mqd_dg")
        p.add_argument("--raw", required=True, help="raw CounterFact file (EasyEdit's counterfact-edit format)")
        p.add_argument("--n", type=int, required=True, help="number of facts (the first N usable)")
        p.add_argument("--seed", type=int, required=True, help="seed of the T/F truth and the MC options")
        p.add_argument("--out", required=True, help="output JSONL, e.g. results/data/mqd_tf.jsonl")
        a = p.parse_args(argv)
        from .mqd import build_mqd_file

        reqs = _run(build_mqd_file, a.dataset, a.raw, a.n, a.seed, a.out)
        rec = {"dataset": a.dataset, "requests": len(reqs), "path": a.out, "seed": a.seed}
    elif command == "corpus":
        p.description = "write the text corpus for layer statistics as JSON lines {\"text\": ...}"
        p.add_argument("--name", required=True, help=f"one of: {', '.join(sorted(CORPORA))}")
        p.add_argument("--out", required=True, help="output JSONL, e.g. resources/corpus/NAME.jsonl")
        p.add_argument("--mirror", default=None, help="local data mirror folder (default: $SEQEDIT_MIRROR_DIR)")
        p.add_argument("--max-docs", type=int, default=None, help="keep only the first K documents")
        a = p.parse_args(argv)
        from .corpus import build_corpus

        rec = _run(build_corpus, a.name, a.out, mirror_root(a.mirror), max_docs=a.max_docs)
    else:
        raise SystemExit(f"seqedit.data: unknown command {command!r}")
    print(json.dumps(rec))


def _run(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except UnknownNameError as e:
        raise SystemExit(f"seqedit: {e}") from None
