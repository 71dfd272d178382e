"""Reading one layer-statistics file ``layer_{L}.safetensors`` (written by ``seqedit layer-stats``,
:mod:`seqedit.stats`), checked."""
from __future__ import annotations

from pathlib import Path

import torch

from . import tensorfile
from .finite import nonfinite_tensors


def load_layer_stats(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of one ``layer_{L}.safetensors``, checked: readable, matching the checksum ``seqedit layer-stats``
    writes (precomputed files from elsewhere may lack one), with a finite ``mom2``."""
    path = Path(path)
    rebuild = (f"rebuild the folder with `snakemake --cores all --forcerun {path.parent}` (rule layer_stats), or "
               "recompute precomputed statistics (stats.path) with `seqedit layer-stats`")
    tensors, _ = tensorfile.load(path, rebuild, require_checksum=False)
    if "mom2" not in tensors:
        raise KeyError(f"layer statistics {path} hold no tensor 'mom2' (have: {', '.join(tensors)}); {rebuild}")
    if nonfinite_tensors({"mom2": tensors["mom2"]}):
        raise tensorfile.CorruptFileError(f"layer statistics {path} hold NaN/inf; {rebuild}")
    return tensors
