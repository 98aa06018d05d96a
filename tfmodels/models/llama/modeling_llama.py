"""Llama: the decoder-only backbone from the kit (rotary positions, grouped-query attention, gated SiLU feed-forward,
RMSNorm) and its classes: the bare decoder, the causal LM and sequence classification. Mistral and Qwen2 subclass
them with their own config."""

from __future__ import annotations

import keras

from tfmodels.layers.decoder import AttentionKind, CausalDecoderBackbone, DecoderStack, layer_kinds
from tfmodels.layers.embeddings import TokenEmbedding
from tfmodels.layers.normalization import RMSNorm
from tfmodels.layers.paths import leaf
from tfmodels.layers.rotary import RotaryEmbedding
from tfmodels.layers.transformer import LayerSpec, TransformerLayer
from tfmodels.models.llama.configuration_llama import LlamaConfig
from tfmodels.models.llama.weights_llama import LLAMA_WEIGHTS
from tfmodels.call_inputs import unpack_inputs
from tfmodels.modeling_outputs import ModelOutput
from tfmodels.tasks import BaseModelTask, DecoderLMTask, LastTokenClassificationTask, TaskModel

def head_dim_of(config) -> int:
    """The attention head size: `config.head_dim`, else `hidden_size // num_attention_heads`."""
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def llama_layer_spec(config, qkv_bias: bool = False) -> LayerSpec:
    """The pre-norm layer of the family: RMSNorm, gated feed-forward, grouped-query attention; biases on the four
    attention projections with `attention_bias`, on the query/key/value ones with `qkv_bias` (Qwen2), on the
    feed-forward with `mlp_bias`."""
    attention_bias = bool(getattr(config, "attention_bias", False))
    return LayerSpec(
        hidden_size=config.hidden_size, num_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size, activation=config.hidden_act, hidden_dropout=0.0,
        attention_dropout=config.attention_dropout, layer_norm_eps=config.rms_norm_eps,
        initializer_range=config.initializer_range, norm_first=True, norm="rms", ffn="gated",
        ffn_bias=bool(getattr(config, "mlp_bias", False)), head_dim=head_dim_of(config),
        num_kv_heads=config.num_key_value_heads, attention_bias=attention_bias or qkv_bias,
        attention_output_bias=attention_bias,
    )


class TFLlamaPreTrainedModel(TaskModel):
    """Llama's architecture: the `model` backbone and its weight table. The backbone is built from parts a family
    overrides (`make_embeddings`, `make_layer`, `make_final_norm`, `make_rotary`, `attention_kinds`,
    `backbone_class`), as transformers' modular files override modules. `qkv_bias` (Qwen2) gives the query, key
    and value projections biases whatever the config says. The classes take the reference's inputs (TFMistral's)
    in its order, `labels` at its slot; `cache_position` is for preallocated caches (`generate`)."""

    config_class = LlamaConfig
    base_model_prefix = "model"
    weight_table = LLAMA_WEIGHTS
    backbone_class = CausalDecoderBackbone
    qkv_bias = False

    def make_backbone(self, config, add_pooling_layer: bool) -> CausalDecoderBackbone:
        """The decoder from its parts: one `make_layer` per layer, each attending as its kind (`layer_kinds`)."""
        layout = self.weight_table.blocks
        paths = [layout.layer.format(i=i) for i in range(config.num_hidden_layers)]
        layers = DecoderStack([self.make_layer(config, index, leaf(path)) for index, path in enumerate(paths)],
                              paths, layer_kinds(config), name="layers")
        return self.backbone_class(layout, self.make_embeddings(config), layers, self.make_final_norm(config),
                                   self.attention_kinds(config), name=self.base_model_prefix)

    def make_embeddings(self, config) -> TokenEmbedding:
        """The token embeddings `embed_tokens`."""
        return TokenEmbedding(config.vocab_size, config.hidden_size, config.initializer_range,
                              name=leaf(self.weight_table.blocks.tokens))

    def make_final_norm(self, config) -> keras.layers.Layer:
        """The norm after the last layer."""
        return RMSNorm(config.rms_norm_eps, name=leaf(self.weight_table.blocks.final_norm))

    def make_layer(self, config, index: int, name: str) -> keras.layers.Layer:
        """Layer `index`, named `name`: Llama's pre-norm `TransformerLayer`."""
        return TransformerLayer(llama_layer_spec(config, self.qkv_bias), self.weight_table.blocks.layer_names, index,
                                name=name)

    def make_rotary(self, config) -> RotaryEmbedding:
        """The rotary tables over each head (`rope_theta`, `rope_scaling`)."""
        return RotaryEmbedding(head_dim_of(config), config.rope_theta, getattr(config, "rope_scaling", None),
                               config.max_position_embeddings)

    def attention_kinds(self, config) -> dict[str, AttentionKind]:
        """How each kind of layer attends: one rotary table for all, the sliding layers within
        `config.sliding_window` (Mistral's every layer, Qwen2's from `max_window_layers` on, Gemma 2's every other)."""
        rotary = self.make_rotary(config)
        return {"full_attention": AttentionKind(rotary),
                "sliding_attention": AttentionKind(rotary, getattr(config, "sliding_window", None))}

    def ignored_on_load(self) -> tuple[list[str], list[str]]:
        """With tied embeddings, a checkpoint's `lm_head` copy of them is not reported as unused."""
        missing, unexpected = super().ignored_on_load()
        if self.config.tie_word_embeddings:
            unexpected.append(r"(^|[/.])lm_head[/.]")
        return missing, unexpected


class TFLlamaModel(TFLlamaPreTrainedModel, BaseModelTask):
    """The bare Llama decoder: `last_hidden_state` (after the final norm) and, with `use_cache`,
    `past_key_values` (one `[2, batch, kv_heads, seq, head_dim]` tensor per layer). With `cache_position`,
    `past_key_values` is a preallocated cache written from that slot on, and `attention_mask` covers every slot.

    Example:
        >>> out = model({"input_ids": ids, "attention_mask": mask}, use_cache=True)
        >>> model({"input_ids": next_ids}, past_key_values=out.past_key_values)
    """

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, position_ids=None, past_key_values=None, inputs_embeds=None,
             use_cache=None, output_attentions=None, output_hidden_states=None, return_dict=None, training=False,
             cache_position=None) -> ModelOutput | tuple:
        return self.run_task(locals())


class TFLlamaForCausalLM(TFLlamaPreTrainedModel, DecoderLMTask):
    """Llama with its language-modelling head; with `labels`, the next-token loss (labels are shifted inside; -100
    is ignored). `generate()` decodes with a preallocated grouped-query cache.

    Example:
        >>> model = TFLlamaForCausalLM.from_pretrained("llama-dir", dtype="bfloat16")
        >>> model.generate(ids, attention_mask=mask, max_new_tokens=20)
    """

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, position_ids=None, past_key_values=None, inputs_embeds=None,
             labels=None, use_cache=None, output_attentions=None, output_hidden_states=None, return_dict=None,
             training=False, cache_position=None) -> ModelOutput | tuple:
        return self.run_task(locals())


class TFLlamaForSequenceClassification(TFLlamaPreTrainedModel, LastTokenClassificationTask):
    """Llama classifying a sequence from its last non-padding token (`config.pad_token_id`; without one, the last
    token) with `score` (no bias); the loss follows `config.problem_type`.

    Example:
        >>> model = TFLlamaForSequenceClassification.from_pretrained("llama-dir", num_labels=2, pad_token_id=0)
    """

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, position_ids=None, past_key_values=None, inputs_embeds=None,
             labels=None, use_cache=None, output_attentions=None, output_hidden_states=None, return_dict=None,
             training=False) -> ModelOutput | tuple:
        return self.run_task(locals())
