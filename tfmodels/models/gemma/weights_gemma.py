"""The weight names of the Gemma families (Gemma, Gemma 2, Gemma 3; PyTorch keys follow by the general rules):
Llama's, with Gemma 2's norms before and after the feed-forward and Gemma 3's `q_norm` / `k_norm`."""

from tfmodels.checkpoints.names import WeightTable
from tfmodels.layers.decoder import CausalDecoderLayout
from tfmodels.layers.decoder_layer import DecoderLayerNames

GEMMA_WEIGHTS = WeightTable(
    prefix="model",
    blocks=CausalDecoderLayout(layer_names=DecoderLayerNames()),
    heads={"causal_lm": {"lm_head": "lm_head"}, "sequence_classification": {"score": "score"}},
    pt_ignore=(r"rotary_emb\.inv_freq$",),
)
