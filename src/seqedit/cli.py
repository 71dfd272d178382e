"""Command line: ``seqedit <command> [options]``. Each command lives in the module that does the work."""
from __future__ import annotations

import atexit
import importlib
import os
import sys

COMMANDS = {
    "model": ("seqedit.models.cli", "materialise a registered model as a Hugging Face folder"),
    "download-data": ("seqedit.data.cli", "fetch a raw dataset file (canonical URL or the data mirror)"),
    "prepare-data": ("seqedit.data.cli", "normalise a raw dataset into edit requests (JSONL)"),
    "build-mqd": ("seqedit.data.cli", "build an MQD question form (our rebuild) from CounterFact facts"),
    "corpus": ("seqedit.data.cli", "fetch the text corpus used for layer statistics"),
    "layer-stats": ("seqedit.stats", "second moments of the edited layers' inputs"),
    "edit": ("seqedit.editing", "sequential editing up to one checkpoint"),
    "reuse-edits": ("seqedit.reuse_edits", "a dataset's checkpoint from another dataset's chain of the same edits"),
    "reuse-result": ("seqedit.reuse_results", "a result of a reused checkpoint, copied from its source entry"),
    "norms": ("seqedit.norms", "per-edit mean|W| and mean|Delta| as CSV"),
    "edit-metrics": ("seqedit.evaluation.cli", "Efficacy / Paraphrase / Specificity of a checkpoint"),
    "downstream": ("seqedit.downstream.cli", "lm-eval downstream tasks on the base model or a checkpoint"),
    "target-perplexity": ("seqedit.evaluation.perplexity", "perplexity of the edit targets, unedited model"),
    "general-perplexity": ("seqedit.evaluation.general_perplexity", "held-out text perplexity, base or checkpoint"),
    "report": ("seqedit.report.cli", "figures and tables"),
    "report-data": ("seqedit.report.data_perspective", "Fig. 3, target-perplexity table, verdicts C7 and C8"),
}


OUTPUT_OPTIONS = ("--out", "--out-dir", "--figures-dir", "--tables-dir")


def remove_stale_temporaries(argv: list[str]) -> None:
    """A command starting again first deletes the temporaries a killed run left beside (or in) its outputs."""
    from .atomic import remove_stale_temporaries as remove

    for i, arg in enumerate(argv):
        name, _, value = arg.partition("=")
        if name in OUTPUT_OPTIONS:
            value = value or (argv[i + 1] if i + 1 < len(argv) else "")
            for f in remove(value) if value else []:
                print(f"seqedit: removed the stale temporary {f}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        lines = [f"  {name:<15} {help_}" for name, (_, help_) in COMMANDS.items()]
        msg = "usage: seqedit <command> [options]\n\ncommands:\n" + "\n".join(lines)
        if argv and argv[0] not in ("-h", "--help"):
            sys.exit(f"seqedit: unknown command {argv[0]!r}\n{msg}")
        print(msg)
        return
    remove_stale_temporaries(argv[1:])
    module = importlib.import_module(COMMANDS[argv[0]][0])
    module.cli(argv[0], argv[1:])


def run() -> None:
    """The ``seqedit`` console command: :func:`main`, and after a successful command a quick exit. The exit
    handlers run and the standard streams are flushed, then the process ends without the interpreter's teardown of
    torch and transformers (~1 s of every job, measured in results/README.md). A failing command (an exception or
    ``sys.exit``) leaves the usual way."""
    main()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    run()
