"""The weight names of Qwen3 (PyTorch keys follow by the general rules): Llama's, with `q_norm` and `k_norm`
inside each `self_attn`."""

from tfmodels.checkpoints.names import WeightTable
from tfmodels.layers.decoder import CausalDecoderLayout
from tfmodels.layers.decoder_layer import DecoderLayerNames

QWEN3_WEIGHTS = WeightTable(
    prefix="model",
    blocks=CausalDecoderLayout(layer_names=DecoderLayerNames()),
    heads={"causal_lm": {"lm_head": "lm_head"}, "sequence_classification": {"score": "score"}},
    pt_ignore=(r"rotary_emb\.inv_freq$",),
)
