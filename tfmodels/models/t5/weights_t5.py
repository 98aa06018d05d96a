"""T5's weight names: the reference's TF paths (`encoder/block_._0/layer_._0/SelfAttention/q/kernel`, the shared
embeddings at `shared/shared/embeddings` outside the model's scope), and the PyTorch keys they map to by the general
rules (`encoder.block.0.layer.0.SelfAttention.q.weight`)."""

from __future__ import annotations

import dataclasses

from tfmodels.checkpoints.names import WeightTable
from tfmodels.layers.attention import AttentionNames
from tfmodels.layers.transformer import LayerNames

_T5_ORDER = ("attention", "attention_norm", "cross_attention", "cross_attention_norm", "ffn", "ffn_norm")


def t5_layer_names(decoder: bool, gated: bool) -> LayerNames:
    """The paths inside a T5 block: `layer_._0` self-attention, (decoder) `layer_._1` cross-attention, then the
    feed-forward `DenseReluDense` (`wi`, or gated `wi_0` activated times `wi_1`), each sub-layer with its norm, its
    variables after its projections'.

    Example:
        >>> t5_layer_names(decoder=True, gated=True).ffn_gate
        'layer_._2/DenseReluDense/wi_0'
    """
    ffn = "layer_._2" if decoder else "layer_._1"
    return LayerNames(
        attention="layer_._0/SelfAttention",
        attention_projections=AttentionNames(query="q", key="k", value="v", output="o"),
        attention_norm="layer_._0/layer_norm",
        cross_attention="layer_._1/EncDecAttention" if decoder else None,
        cross_attention_norm="layer_._1/layer_norm" if decoder else None,
        ffn_gate=f"{ffn}/DenseReluDense/wi_0" if gated else None,
        ffn_in=f"{ffn}/DenseReluDense/wi_1" if gated else f"{ffn}/DenseReluDense/wi",
        ffn_out=f"{ffn}/DenseReluDense/wo",
        ffn_norm=f"{ffn}/layer_norm",
        order=_T5_ORDER,
    )


@dataclasses.dataclass(frozen=True)
class T5Layout:
    """Where T5's blocks sit. `shared` names the shared embeddings and the scope, outside the model's, that the
    reference builds them in (`shared/shared/embeddings`); the others are relative to the model, or to a stack
    (`layer`, formatted with `i`; the first layer's `relative_attention_bias`; `final_norm`)."""

    shared: str = "shared"
    encoder: str = "encoder"
    decoder: str = "decoder"
    layer: str = "block_._{i}"
    relative_attention_bias: str = "block_._0/layer_._0/SelfAttention/relative_attention_bias"
    final_norm: str = "final_layer_norm"


T5_WEIGHTS = WeightTable(
    prefix="transformer",
    blocks=T5Layout(),
    heads={"seq2seq_lm": {"lm_head": "lm_head"}},
    # PyTorch's copies of `shared.weight`, and a cross-attention bias some old PyTorch files carry unused.
    pt_ignore=(r"^(encoder|decoder)\.embed_tokens\.weight$",
               r"^decoder\.block\.0\.layer\.1\.EncDecAttention\.relative_attention_bias\.weight$"),
)
