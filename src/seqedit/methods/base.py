"""The interface every editing method implements, and the reader of its layer statistics."""
from __future__ import annotations

from pathlib import Path


METHODS: dict[str, type["EditMethod"]] = {}


def register(cls):
    METHODS[cls.name] = cls
    return cls


class EditMethod:
    """One editing method applied request by request (sequential editing).

    Subclasses set ``name`` and implement :meth:`edit`. The runner calls, in order: ``__init__``, either
    :meth:`load_state_dict` (resuming from a checkpoint) or nothing, then :meth:`edit` once per request.
    """

    name: str = ""
    #: False for methods that leave the base weights untouched (an adaptor such as GRACE)
    edits_weights: bool = True
    #: hyperparameters every set must define
    required: tuple[str, ...] = ()
    #: True for methods that read the second moments of their edited layers' inputs (MEMIT's C0)
    uses_stats: bool = False

    def __init__(self, model, tok, arch, hparams: dict, stats: "StatsLoader | None", context_templates):
        missing = [k for k in self.required if k not in hparams]
        if missing:
            raise KeyError(f"method {self.name}: hyperparameters missing: {', '.join(missing)}")
        self.model, self.tok, self.arch, self.hp = model, tok, arch, hparams
        self.stats = stats
        self.context_templates = context_templates
        self.device = next(model.parameters()).device

    # -- what the method edits ---------------------------------------------------------------------------
    def edited_params(self) -> list[str]:
        return [f"{self.arch.mlp_out.format(layer)}.weight" for layer in self.hp["layers"]]

    @classmethod
    def stats_layers(cls, hparams: dict) -> list[int]:
        """Layers whose statistics this method reads, from its hyperparameters (the workflow computes only these)."""
        return sorted(hparams["layers"]) if cls.uses_stats else []

    def needs_stats_layers(self) -> list[int]:
        return self.stats_layers(self.hp)

    # -- editing -----------------------------------------------------------------------------------------
    def edit(self, request: dict) -> dict:
        """Apply one edit to ``self.model`` in place; return log fields (e.g. ``z_prob_first``, ``z_prob_last``)."""
        raise NotImplementedError

    # -- state that must survive between checkpoints -------------------------------------------------------
    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        if state:
            raise ValueError(f"method {self.name} keeps no state but the checkpoint has {sorted(state)}")

    @classmethod
    def apply_checkpoint(cls, model, weights: dict, state: dict, meta: dict):
        """Put a checkpoint into a loaded base model (default: overwrite the edited weights)."""
        from ..nethooks import set_weights

        set_weights(model, weights)
        return model


class StatsLoader:
    """Second moments ``E[k k^T]`` of the edited layers' inputs, read from ``layer_{L}.safetensors`` files."""

    def __init__(self, stats_dir: str | Path, device="cpu"):
        self.dir = Path(stats_dir)
        self.device = device
        self._cache: dict = {}

    def mom2(self, layer: int):
        if layer not in self._cache:
            from ..stats_file import load_layer_stats

            path = self.dir / f"layer_{layer}.safetensors"
            if not path.exists():
                raise FileNotFoundError(f"layer statistics {path} missing: run the layer_stats rule for layer {layer}")
            self._cache[layer] = load_layer_stats(path)["mom2"].to(self.device)
        return self._cache[layer]
