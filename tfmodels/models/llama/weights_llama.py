"""The weight names of the Llama family (Llama, Mistral, Qwen2): the reference's `TFMistral` TF paths, which Llama
and Qwen2 follow (PyTorch keys follow by the general rules)."""

from tfmodels.checkpoints.names import WeightTable
from tfmodels.layers.attention import AttentionNames
from tfmodels.layers.decoder import CausalDecoderLayout
from tfmodels.layers.transformer import LayerNames

LLAMA_LAYER = LayerNames(
    attention="self_attn",
    attention_projections=AttentionNames(query="q_proj", key="k_proj", value="v_proj", output="o_proj"),
    attention_norm="input_layernorm",
    ffn_gate="mlp/gate_proj",
    ffn_in="mlp/up_proj",
    ffn_out="mlp/down_proj",
    ffn_norm="post_attention_layernorm",
    # The reference's variable order: the attention and feed-forward projections first, then both norms.
    order=("attention", "cross_attention", "cross_attention_norm", "ffn", "attention_norm", "ffn_norm"),
)

LLAMA_WEIGHTS = WeightTable(
    prefix="model",
    blocks=CausalDecoderLayout(layer_names=LLAMA_LAYER),
    heads={"causal_lm": {"lm_head": "lm_head"}, "sequence_classification": {"score": "score"}},
    # The rotary frequencies older PyTorch files store per layer (a buffer, computed from the config here).
    pt_ignore=(r"rotary_emb\.inv_freq$",),
)
