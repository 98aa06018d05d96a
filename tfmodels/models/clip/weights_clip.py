"""CLIP's weight names: the reference's TF paths under the model's `clip` layer (PyTorch keys follow by the general
rules, without `clip.`: CLIP's PyTorch classes have no base-model prefix)."""

from tfmodels.checkpoints.names import WeightTable
from tfmodels.layers.attention import AttentionNames
from tfmodels.layers.transformer import LayerNames

# Both towers' pre-norm layers; the reference creates each block's weights before its norm's.
CLIP_LAYER = LayerNames(
    attention="self_attn",
    attention_projections=AttentionNames("q_proj", "k_proj", "v_proj", "out_proj"),
    attention_norm="layer_norm1",
    ffn_in="mlp/fc1",
    ffn_out="mlp/fc2",
    ffn_norm="layer_norm2",
    order=("attention", "attention_norm", "cross_attention", "cross_attention_norm", "ffn", "ffn_norm"),
)

CLIP_WEIGHTS = WeightTable(
    prefix="clip",
    blocks={"layer_names": CLIP_LAYER, "text": "text_model", "vision": "vision_model", "layer": "layers_._{i}",
            "text_projection": "text_projection", "visual_projection": "visual_projection"},
    pt_squeezed=(r"^logit_scale$",),  # `[1]` here (the reference's TF variable), a scalar in PyTorch
    pt_ignore=(r"position_ids$",),  # a buffer of older PyTorch files
)
