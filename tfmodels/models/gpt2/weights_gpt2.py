"""GPT-2's weight names: the reference's TF paths (PyTorch keys follow by the general rules)."""

from __future__ import annotations

import dataclasses

from tfmodels.checkpoints.names import WeightTable
from tfmodels.layers.attention import AttentionNames
from tfmodels.layers.transformer import LayerNames

GPT2_LAYER = LayerNames(
    attention="attn",
    attention_projections=AttentionNames(query=None, key=None, value=None, output="c_proj", qkv="c_attn"),
    attention_norm="ln_1",
    ffn_in="mlp/c_fc",
    ffn_out="mlp/c_proj",
    ffn_norm="ln_2",
)


@dataclasses.dataclass(frozen=True)
class DecoderLayout:
    """Where GPT-2's blocks sit, relative to the backbone: the token and position tables, the layers (formatted
    with `i`, directly under the backbone) and the final LayerNorm."""

    layer_names: LayerNames
    tokens: str = "wte"
    positions: str = "wpe"
    layer: str = "h_._{i}"
    final_norm: str = "ln_f"


GPT2_WEIGHTS = WeightTable(
    prefix="transformer",
    blocks=DecoderLayout(layer_names=GPT2_LAYER),
    heads={
        "multiple_choice": {"summary": "multiple_choice_head/summary"},
        "sequence_classification": {"score": "score"},
    },
    # The causal-mask buffers of PyTorch files, and the LM matrix tied to `wte`.
    pt_ignore=(r"h\.\d+\.attn\.bias$", r"h\.\d+\.attn\.masked_bias$", r"h\.\d+\.crossattention\.bias$",
               r"h\.\d+\.crossattention\.masked_bias$", r"(^|\.)lm_head\.weight$"),
    pt_squeezed=(r"\.(c_attn|q_attn|c_proj|c_fc)\.bias$",),  # Conv1D biases: `[1, n]` here, `[n]` in PyTorch
)
