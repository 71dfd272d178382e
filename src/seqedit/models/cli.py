from __future__ import annotations

import argparse

from .convert import prepare_model


def cli(command: str, argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog=f"seqedit {command}", description="materialise a registered model")
    p.add_argument("--name", required=True, help="registered model name (see seqedit.models.registry)")
    p.add_argument("--out", required=True, help="output Hugging Face folder")
    p.add_argument("--path", default=None, help="local HF folder or .gguf file overriding the registry source")
    a = p.parse_args(argv)
    prepare_model(a.name, a.out, local_path=a.path)
