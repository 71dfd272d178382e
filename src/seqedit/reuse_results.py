"""``seqedit reuse-result``: a per-checkpoint result of an entry with ``edits_from``, taken from its source entry.

A result that depends on the checkpoint's weights alone (the held-out perplexity: fixed text, the model, the
weights) is the same number for two entries whose checkpoints are the same tensors. Config
``datasets.<name>.edits_from`` makes exactly that: the entry's checkpoints are byte-for-byte copies of the source's
(``seqedit reuse-edits``). Scoring the copy again would spend a job on a known result (MQD's Directly-generated form
and CounterFact: 6 held-out perplexity jobs of ~44 s in the findings config), so the workflow copies the source's
result instead.

Before it writes, the command checks that the copy is the same computation: both checkpoints' JSONs carry the
same ``tensors_sha256`` (and method, number of edits), and the source's result names the source's checkpoint.
Anything else stops the job with the two files named and nothing written. The copy names this entry's checkpoint
(``checkpoint``, ``dataset``) and the file it came from (``copied_from``). Results that read the entry's own
requests (edit metrics) are never copied.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from . import atomic
from .files import read_json


def _read_json(path: str | Path) -> dict:
    try:
        return read_json(path)
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: cannot read it as JSON ({err})") from None


def check_same_checkpoint(source_meta: dict, own_meta: dict, source_meta_path, own_meta_path) -> None:
    """The two checkpoint JSONs describe the same tensors (``tensors_sha256``), method and number of edits."""
    for field in ("tensors_sha256", "method", "n_edits"):
        theirs, ours = source_meta.get(field), own_meta.get(field)
        if theirs is None or theirs != ours:
            raise ValueError(
                f"{own_meta_path} and {source_meta_path} differ in {field!r} ({ours!r} vs {theirs!r}): the two "
                "checkpoints are not the same weights, so the source's result cannot be reused"
            )


def reuse_result(source_result: str | Path, source_checkpoint: str | Path, checkpoint: str | Path,
                 out: str | Path) -> dict:
    """Write ``out``: the record of ``source_result`` (computed on ``source_checkpoint``) for ``checkpoint``, a
    copy of the same tensors; return it."""
    from .checkpoints import json_path

    source_meta_path, own_meta_path = json_path(source_checkpoint), json_path(checkpoint)
    source_meta, own_meta = _read_json(source_meta_path), _read_json(own_meta_path)
    check_same_checkpoint(source_meta, own_meta, source_meta_path, own_meta_path)
    record = _read_json(source_result)
    if str(record.get("checkpoint")) != str(source_checkpoint):
        raise ValueError(
            f"{source_result} was computed on {record.get('checkpoint')!r}, not on {source_checkpoint}: "
            "it is not that checkpoint's result"
        )
    copy = {**record, "checkpoint": str(checkpoint), "copied_from": str(source_result)}
    if "dataset" in record:
        copy["dataset"] = own_meta.get("dataset")
    atomic.write_json(out, copy)
    return copy


def cli(name: str, argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog=f"seqedit {name}", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source-result", required=True, help="the source entry's result JSON")
    parser.add_argument("--source-checkpoint", required=True, help="the source entry's step_N.safetensors")
    parser.add_argument("--checkpoint", required=True, help="this entry's step_N.safetensors (a copy)")
    parser.add_argument("--out", required=True, help="this entry's result JSON")
    args = parser.parse_args(argv)
    try:
        copy = reuse_result(args.source_result, args.source_checkpoint, args.checkpoint, args.out)
    except ValueError as err:
        raise SystemExit(f"seqedit {name}: {err}") from None
    print(f"{args.out}: copied from {copy['copied_from']} (same tensors as {args.source_checkpoint})")


if __name__ == "__main__":  # pragma: no cover
    import sys

    cli("reuse-result", sys.argv[1:])
