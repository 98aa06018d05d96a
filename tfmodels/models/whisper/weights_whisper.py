"""Whisper's weight names: the reference's TF paths (PyTorch keys follow by the general rules; the convolutions'
kernels are permuted as PyTorch stores them)."""

from __future__ import annotations

import dataclasses

from tfmodels.checkpoints.names import WeightTable
from tfmodels.layers.attention import AttentionNames
from tfmodels.layers.transformer import LayerNames

# The reference lists each attention's projections key first; the key has no bias.
WHISPER_ATTENTION = AttentionNames(query="q_proj", key="k_proj", value="v_proj", output="out_proj",
                                   order=("key", "value", "query"))
WHISPER_ENCODER_LAYER = LayerNames(
    attention="self_attn",
    attention_projections=WHISPER_ATTENTION,
    attention_norm="self_attn_layer_norm",
    ffn_in="fc1",
    ffn_out="fc2",
    ffn_norm="final_layer_norm",
    order=("attention", "attention_norm", "cross_attention", "cross_attention_norm", "ffn", "ffn_norm"),
)
WHISPER_DECODER_LAYER = dataclasses.replace(WHISPER_ENCODER_LAYER, cross_attention="encoder_attn",
                                            cross_attention_norm="encoder_attn_layer_norm")


@dataclasses.dataclass(frozen=True)
class WhisperLayout:
    """Where Whisper's blocks sit, relative to the backbone (`model`): each stack's layers (formatted with `i`),
    positions and final norm; the encoder's two convolutions; the decoder's token embeddings (tied to the LM head)."""

    encoder_layer: LayerNames = WHISPER_ENCODER_LAYER
    decoder_layer: LayerNames = WHISPER_DECODER_LAYER
    encoder: str = "encoder"
    decoder: str = "decoder"
    layer: str = "layers.{i}"
    positions: str = "embed_positions"
    final_norm: str = "layer_norm"
    convolutions: tuple[str, str] = ("conv1", "conv2")
    embed_tokens: str = "embed_tokens"


WHISPER_WEIGHTS = WeightTable(
    prefix="model",
    blocks=WhisperLayout(),
    heads={"seq2seq_lm": {}},
    pt_ignore=(r"^proj_out\.weight$",),  # the LM head: the decoder's token embeddings (tied)
)
