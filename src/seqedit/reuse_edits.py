"""``seqedit reuse-edits``: the checkpoint of a dataset entry whose edit requests are another entry's.

Config ``datasets.<name>.edits_from: <other entry>``: the entry's chains are not edited again; each of its
checkpoints is the other entry's checkpoint after the same number of edits, copied once it is checked that the two
request files hold the same edits (MQD's Directly-generated form is the CounterFact request itself, so editing it
again cost a third of the MQD budget for bit-identical tensors, issue 13). The evaluations (edit metrics, lm-eval,
held-out perplexity) still run on the entry's own requests and paths.

The check compares, for every request the checkpoint edited, the fields an edit reads (:data:`EDIT_FIELDS`) in the
same order; any difference stops the job with the record and the field, before anything is written. The copy keeps
the tensors byte for byte (so ``tensors_sha256`` is the source's: C8 counts the two chains once) and its JSON
names the entry (``dataset``) and the source (``edits_from``).
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from . import atomic
from .checkpoints import json_path, load_checkpoint
from .files import read_jsonl

EDIT_FIELDS = ("id", "prompt", "subject", "target_new", "target_true")


def check_same_edits(source: list[dict], own: list[dict], n_edits: int, source_path: str | Path,
                     path: str | Path, dataset: str = "<name>") -> None:
    """The first ``n_edits`` requests of both lists (read from ``source_path`` and ``path``) agree on every
    :data:`EDIT_FIELDS` value, else ValueError (naming the config key of ``dataset``, the entry that reuses)."""
    for where, rows in ((source_path, source), (path, own)):
        if len(rows) < n_edits:
            raise ValueError(f"{where} holds {len(rows)} requests, fewer than the {n_edits} edits of the checkpoint")
    for index, (theirs, ours) in enumerate(zip(source[:n_edits], own[:n_edits])):
        for field in EDIT_FIELDS:
            if theirs.get(field) != ours.get(field):
                raise ValueError(
                    f"config datasets.{dataset}.edits_from: request {index} of {path} differs from {source_path} "
                    f"in {field!r} ({ours.get(field)!r} vs {theirs.get(field)!r}): the two datasets do not make "
                    "the same edits, so the checkpoint cannot be reused; remove edits_from to edit this dataset "
                    "itself"
                )


def reuse(checkpoint: str | Path, source_requests: str | Path, requests: str | Path, dataset: str,
          out: str | Path) -> dict:
    """Copy ``checkpoint`` (and its JSON) to ``out`` as the checkpoint of ``dataset``; return the new meta."""
    _, _, meta = load_checkpoint(checkpoint)  # complete, intact, finite
    n_edits = meta["n_edits"]
    source = read_jsonl(source_requests)
    if meta["request_ids"] != [r["id"] for r in source[:n_edits]]:
        raise ValueError(f"{checkpoint} was made from other requests than the first {n_edits} of {source_requests}")
    check_same_edits(source, read_jsonl(requests), n_edits, source_requests, requests, dataset)
    with atomic.atomic_path(out, suffix=".safetensors") as tmp:
        shutil.copyfile(checkpoint, tmp)
    new_meta = {**meta, "dataset": dataset, "edits_from": meta["dataset"]}
    atomic.write_json(json_path(out), new_meta)  # last: the checkpoint is complete once its JSON exists
    return new_meta


def cli(name: str, argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog=f"seqedit {name}", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="the source entry's step_N.safetensors")
    parser.add_argument("--source-requests", required=True, help="the source entry's requests (JSONL)")
    parser.add_argument("--requests", required=True, help="this entry's requests (JSONL)")
    parser.add_argument("--dataset", required=True, help="this entry's name (recorded in the JSON)")
    parser.add_argument("--out", required=True, help="this entry's step_N.safetensors")
    args = parser.parse_args(argv)
    try:
        meta = reuse(args.checkpoint, args.source_requests, args.requests, args.dataset, args.out)
    except ValueError as err:
        raise SystemExit(f"seqedit {name}: {err}") from None
    print(f"{args.out}: {meta['n_edits']} edits of {meta['edits_from']} reused for {args.dataset} "
          f"(tensors sha256 {meta['tensors_sha256'][:12]})")


if __name__ == "__main__":  # pragma: no cover
    import sys

    cli("reuse-edits", sys.argv[1:])
