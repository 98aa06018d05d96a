"""The weight names of Phi-3 (PyTorch keys follow by the general rules): Llama's, with the fused `qkv_proj` and
`gate_up_proj` as its checkpoints store them."""

from tfmodels.checkpoints.names import WeightTable
from tfmodels.layers.attention import AttentionNames
from tfmodels.layers.decoder import CausalDecoderLayout
from tfmodels.layers.decoder_layer import DecoderLayerNames

PHI3_WEIGHTS = WeightTable(
    prefix="model",
    blocks=CausalDecoderLayout(layer_names=DecoderLayerNames(
        attention_projections=AttentionNames(query=None, key=None, value=None, output="o_proj", qkv="qkv_proj"),
        mlp_projections=("gate_up_proj", "down_proj"))),
    heads={"causal_lm": {"lm_head": "lm_head"}, "sequence_classification": {"score": "score"}},
    pt_ignore=(r"rotary_emb\.inv_freq$",),
)
