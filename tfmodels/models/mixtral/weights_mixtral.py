"""The weight names of Mixtral (PyTorch keys follow by the general rules): Llama's attention and norms, and in
each layer `block_sparse_moe` with its router `gate` and experts `experts.{j}` (`w1`, `w2`, `w3`), as Mixtral's
checkpoints store them (and transformers 5 reads and writes them)."""

from tfmodels.checkpoints.names import WeightTable
from tfmodels.layers.decoder import CausalDecoderLayout
from tfmodels.layers.decoder_layer import DecoderLayerNames

MIXTRAL_WEIGHTS = WeightTable(
    prefix="model",
    blocks=CausalDecoderLayout(layer_names=DecoderLayerNames(mlp="block_sparse_moe")),
    heads={"causal_lm": {"lm_head": "lm_head"}, "sequence_classification": {"score": "score"}},
    pt_ignore=(r"rotary_emb\.inv_freq$",),
)
