"""ViT's weight names: the reference's TF paths (PyTorch keys follow by the general rules; the patch projection is a
convolution, permuted as PyTorch stores it)."""

from tfmodels.checkpoints.names import WeightTable
from tfmodels.layers.attention import AttentionNames
from tfmodels.layers.transformer import LayerNames
from tfmodels.layers.vision import VisionEncoderLayout

# Pre-norm layers; the reference creates the attention and feed-forward weights before the two norms.
VIT_LAYER = LayerNames(
    attention="attention",
    attention_projections=AttentionNames("attention/query", "attention/key", "attention/value", "output/dense"),
    attention_norm="layernorm_before",
    ffn_in="intermediate/dense",
    ffn_out="output/dense",
    ffn_norm="layernorm_after",
    order=("attention", "cross_attention", "ffn", "attention_norm", "cross_attention_norm", "ffn_norm"),
)

VIT_WEIGHTS = WeightTable(
    prefix="vit",
    blocks=VisionEncoderLayout(layer_names=VIT_LAYER),
    heads={"image_classification": {"classifier": "classifier"}},
)
