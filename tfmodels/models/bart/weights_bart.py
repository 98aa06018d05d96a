"""BART's weight names: the reference's TF paths (PyTorch keys follow by the general rules, plus the shared
embeddings' rename)."""

from __future__ import annotations

import dataclasses

from tfmodels.checkpoints.names import WeightTable
from tfmodels.layers.attention import AttentionNames
from tfmodels.layers.transformer import LayerNames

# The reference lists each attention's projections key first.
BART_ATTENTION = AttentionNames(query="q_proj", key="k_proj", value="v_proj", output="out_proj",
                                order=("key", "query", "value"))
BART_ENCODER_LAYER = LayerNames(
    attention="self_attn",
    attention_projections=BART_ATTENTION,
    attention_norm="self_attn_layer_norm",
    ffn_in="fc1",
    ffn_out="fc2",
    ffn_norm="final_layer_norm",
)
BART_DECODER_LAYER = dataclasses.replace(BART_ENCODER_LAYER, cross_attention="encoder_attn",
                                         cross_attention_norm="encoder_attn_layer_norm")


@dataclasses.dataclass(frozen=True)
class BartLayout:
    """Where BART's blocks sit: `shared` (the token embeddings, outside the model's name scope, as the
    reference's `model.shared/model.shared/embeddings`), the `encoder` and `decoder` stacks relative to the
    backbone, and inside each stack the learned positions, the layers (formatted with `i`) and the embedding
    LayerNorm."""

    encoder_layer: LayerNames = BART_ENCODER_LAYER
    decoder_layer: LayerNames = BART_DECODER_LAYER
    shared: str = "model.shared"
    encoder: str = "encoder"
    decoder: str = "decoder"
    positions: str = "embed_positions"
    layer: str = "layers.{i}"
    embedding_norm: str = "layernorm_embedding"


BART_WEIGHTS = WeightTable(
    prefix="model",
    blocks=BartLayout(),
    heads={
        "seq2seq_lm": {"final_logits_bias": "final_logits_bias"},
        "sequence_classification": {"dense": "classification_head/dense", "out_proj": "classification_head/out_proj"},
    },
    pt_renames=((r"^model\.shared\.model\.shared\.weight$", "model.shared.weight"),),
    # PyTorch's copies of the shared embeddings (tied), and the LM head's bias in a checkpoint loaded without it.
    pt_ignore=(r"(^|\.)(encoder|decoder)\.embed_tokens\.weight$", r"^lm_head\.weight$",
               r"(^|\.)(encoder|decoder)\.version$", r"^final_logits_bias"),
    missing_ok=(r"^final_logits_bias$",),
)
