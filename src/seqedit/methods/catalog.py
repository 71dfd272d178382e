"""The method table without torch: each method's hyperparameter keys and which layers' statistics it reads.

The Snakefile reads this table (and the hparams files) to plan the DAG and to check the hparams files, so parsing
the workflow imports no method module. :func:`seqedit.methods.get_method` checks that the table agrees with the
classes (``required``, ``uses_stats``, ``stats_layers``), and tests check that every key a method module reads is
listed here.
"""
from __future__ import annotations

from dataclasses import dataclass

#: keys every method may set: the lengths of the context templates (``seqedit.editing``; default [[10, 5]])
COMMON_OPTIONAL = ("context_template_length_params",)
#: the value optimisation of the locate-then-edit methods (``value_opt``): optional autocast dtype
VALUE_OPT_OPTIONAL = ("compute_dtype",)
VALUE_OPT_REQUIRED = ("layers", "fact_token", "v_num_grad_steps", "v_lr", "v_loss_layer", "v_weight_decay",
                      "clamp_norm_factor", "kl_factor")
MEMIT_REQUIRED = VALUE_OPT_REQUIRED + ("mom2_update_weight", "context_template_length_params")
FT_REQUIRED = ("layers", "num_steps", "lr", "weight_decay", "norm_constraint")


@dataclass(frozen=True)
class MethodEntry:
    """One editing method as the workflow sees it.

    ``uses_stats``: reads the second moments of its edited layers' inputs (MEMIT's C0) at ``hparams["layers"]``;
    ``stats_switch``: the key that turns the statistics on instead (ROME's ``mom2_adjustment``)."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    uses_stats: bool = False
    stats_switch: str | None = None

    @property
    def keys(self) -> frozenset[str]:
        """Every hyperparameter this method knows (required or optional)."""
        return frozenset(self.required) | frozenset(self.optional) | frozenset(COMMON_OPTIONAL)

    def stats_layers(self, hparams: dict) -> list[int]:
        """Layers whose statistics this method reads with these hyperparameters (the workflow computes only these)."""
        reads = bool(hparams.get(self.stats_switch)) if self.stats_switch else self.uses_stats
        return sorted(hparams["layers"]) if reads else []


_ENTRIES = (
    MethodEntry("rome", VALUE_OPT_REQUIRED + ("mom2_adjustment", "context_template_length_params"),
                VALUE_OPT_OPTIONAL, stats_switch="mom2_adjustment"),
    MethodEntry("memit", MEMIT_REQUIRED, VALUE_OPT_OPTIONAL, uses_stats=True),
    MethodEntry("d4s", MEMIT_REQUIRED, VALUE_OPT_OPTIONAL + ("value_block", "resolve_every", "sum_device"),
                uses_stats=True),
    MethodEntry("pmet", MEMIT_REQUIRED + ("nll_loss_factor",), VALUE_OPT_OPTIONAL, uses_stats=True),
    MethodEntry("alphaedit", tuple(k for k in MEMIT_REQUIRED if k != "mom2_update_weight")
                + ("nullspace_threshold", "L2"), VALUE_OPT_OPTIONAL + ("resolve_every", "sum_device"), uses_stats=True),
    MethodEntry("ft", FT_REQUIRED),
    MethodEntry("ft_m", FT_REQUIRED),
    MethodEntry("grace", ("layer", "edit_lr", "n_iter", "eps", "val_init", "replacement", "eps_expand"), ("seed",)),
    MethodEntry("kn", ("steps", "batch_size", "adaptive_threshold", "p", "refine", "attribution_site",
                       "scale_single_token", "scale_per_token"), ("candidate_layers", "rows_per_pass")),
)
CATALOG: dict[str, MethodEntry] = {e.name: e for e in _ENTRIES}


def method_entry(name: str) -> MethodEntry:
    try:
        return CATALOG[name]
    except KeyError:
        raise KeyError(f"unknown method {name!r}; known methods: {', '.join(sorted(CATALOG))}") from None
