from __future__ import annotations

import argparse

from .convert import prepare_model


def cli(command: str, argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog=f"seqedit {command}", description="materialise a registered model")
    p.add_argument("--name", required=True, help="registered model name (see seqedit.models.registry)")
    p.add_argument("--out", required=True, help="output Hugging Face folder")
    p.add_argument("--path", default=None, help="local HF folder or .gguf file overriding the registry source")
    p.add_argument("--path-content", default=None, metavar="KEY",
                   help="content key (seqedit.model_keys) the local model must have; without --path its folder is "
                        "read from $SEQEDIT_MODEL_PATHS (the workflow sets it from config models.<name>.path)")
    a = p.parse_args(argv)
    path = a.path
    if a.path_content:
        from seqedit.model_keys import check_model_path, content_key, exported_path

        path = str(check_model_path(a.name, path or exported_path(a.name)))
        found = content_key(path)
        if found != a.path_content:
            raise SystemExit(f"seqedit model: the model files in {path} changed since the workflow was parsed "
                             f"(content {found}, expected {a.path_content}); run the workflow again")
    prepare_model(a.name, a.out, local_path=path)
