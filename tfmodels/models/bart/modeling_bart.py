"""BART: the encoder-decoder assembled from the kit (post-norm layers, the decoder's with cross-attention; learned
positions offset by 2; one token embedding `model.shared` for both stacks) and its classes: the bare model,
conditional generation (the LM head tied to the shared embeddings, plus `final_logits_bias`) and sequence
classification at the last `<eos>` token."""

from __future__ import annotations

import logging
import math

import keras
import numpy as np
import tensorflow as tf

from tfmodels.layers.attention import AttentionContext, KVCache, cross_inputs
from tfmodels.layers.core import head_mask_5d, padding_bias
from tfmodels.layers.embeddings import TokenEmbedding, replace_variable
from tfmodels.layers.encoder import cached_length, check_ids_or_embeds, self_attention_bias
from tfmodels.layers.heads import ClassifierHead
from tfmodels.layers.paths import Group, build_at, leaf
from tfmodels.layers.transformer import Collect, GroupedTransformerStack, LayerNames, LayerSpec, transformer_layers
from tfmodels.models.bart.configuration_bart import BartConfig
from tfmodels.models.bart.weights_bart import BART_WEIGHTS, BartLayout
from tfmodels.seq2seq import (
    Seq2SeqDecoderView,
    Seq2SeqEncoderView,
    Seq2SeqLMTask,
    Seq2SeqModelTask,
    Seq2SeqSequenceClassificationTask,
    Seq2SeqTaskModel,
)
from tfmodels.tasks import HeadAttribute

logger = logging.getLogger(__name__)

POSITION_OFFSET = 2  # BART's learned positions start at row 2 of the table (a fairseq legacy)


def bart_layer_spec(config: BartConfig, decoder: bool) -> LayerSpec:
    """BART's post-norm layer (LayerNorm epsilon 1e-5); the decoder's has cross-attention. The dropout after the
    feed-forward activation (`activation_dropout`) runs at the `dropout` rate: the kit's layers have one rate for
    both (BART's released configs use 0 or the same rate)."""
    if config.activation_dropout not in (0, config.dropout):
        logger.warning("BART's layers drop out after the feed-forward activation at dropout=%s, not at "
                       "activation_dropout=%s (only training is affected). Set them equal, or activation_dropout=0, "
                       "to silence this.", config.dropout, config.activation_dropout)
    return LayerSpec(
        hidden_size=config.d_model,
        num_heads=config.decoder_attention_heads if decoder else config.encoder_attention_heads,
        intermediate_size=config.decoder_ffn_dim if decoder else config.encoder_ffn_dim,
        activation=config.activation_function, hidden_dropout=config.dropout,
        attention_dropout=config.attention_dropout, layer_norm_eps=1e-5, initializer_range=config.init_std,
        cross_attention=decoder, dropout_inside_ffn=config.activation_dropout > 0,
    )


class BartStack(keras.layers.Layer):
    """BART's encoder or decoder (`encoder`/`decoder` in checkpoints): learned positions (offset by 2) added to the
    token embeddings it is given, `layernorm_embedding`, dropout, then the layers (directly under the stack:
    `layers.0`, ...). The decoder is causal, caches its self-attention and attends to the encoder's states.

    Example:
        >>> encoder = BartStack(BART_WEIGHTS.blocks, config, decoder=False, name="encoder")
        >>> encoder(inputs_embeds, attention_mask=mask)["last_hidden_state"]
    """

    def __init__(self, layout: BartLayout, config: BartConfig, decoder: bool, **kwargs):
        super().__init__(**kwargs)
        self.layout, self.decoder, self.hidden_size = layout, decoder, config.d_model
        num_layers = config.decoder_layers if decoder else config.encoder_layers
        names: LayerNames = layout.decoder_layer if decoder else layout.encoder_layer
        self.embed_positions = TokenEmbedding(config.max_position_embeddings + POSITION_OFFSET, config.d_model,
                                              config.init_std, name=leaf(layout.positions))
        paths = [layout.layer.format(i=i) for i in range(num_layers)]
        self.layers = GroupedTransformerStack(transformer_layers(bart_layer_spec(config, decoder), names, paths), paths,
                                              name="layers")
        self.layernorm_embedding = keras.layers.LayerNormalization(epsilon=1e-5, name=leaf(layout.embedding_norm))
        self.dropout = keras.layers.Dropout(config.dropout, name="dropout")

    def build(self, input_shape=None):
        build_at(self.embed_positions, self.layout.positions)
        self.layers.build(None)
        build_at(self.layernorm_embedding, self.layout.embedding_norm, (None, None, self.hidden_size))

    def call(self, inputs_embeds, attention_mask=None, position_ids=None, head_mask=None,
             encoder_hidden_states=None, encoder_attention_mask=None, past_key_values=None, cross_key_values=None,
             cache_position=None, use_cache=False, output_attentions=False, output_hidden_states=False,
             cross_attn_head_mask=None, training=False):
        past_length = cached_length(past_key_values, cache_position)
        if position_ids is None:
            position_ids = tf.range(past_length, past_length + tf.shape(inputs_embeds)[1])[None, :]
        hidden_states = inputs_embeds + self.embed_positions(position_ids + POSITION_OFFSET)
        hidden_states = self.dropout(self.layernorm_embedding(hidden_states), training=training)
        bias = self_attention_bias(hidden_states, attention_mask, past_length, past_key_values, cache_position,
                                   causal=self.decoder)
        encoder_bias = None
        if encoder_attention_mask is not None:
            encoder_bias = padding_bias(encoder_attention_mask, hidden_states.dtype)
        cross = cross_inputs(encoder_hidden_states if self.decoder else None, encoder_bias, cross_key_values,
                             head_mask_5d(cross_attn_head_mask, len(self.layers)))
        return self.layers(
            hidden_states, context=AttentionContext(bias), head_masks=head_mask_5d(head_mask, len(self.layers)),
            cache=KVCache(past_key_values, cache_position, bool(use_cache and self.decoder)), cross=cross,
            collect=Collect(bool(output_attentions), bool(output_hidden_states)), training=training,
        )


class BartBackbone(keras.layers.Layer):
    """BART's `model`: the shared token embeddings (scaled by `sqrt(d_model)` with `scale_embedding`), the encoder
    and the decoder; implements the backbone contract of `tfmodels.seq2seq`.

    Example:
        >>> backbone = BartBackbone(BART_WEIGHTS.blocks, config, name="model")
        >>> states = backbone.encode(input_ids=ids, attention_mask=mask)["last_hidden_state"]
    """

    def __init__(self, layout: BartLayout, config: BartConfig, **kwargs):
        super().__init__(**kwargs)
        self.layout = layout
        self.embed_scale = math.sqrt(config.d_model) if config.scale_embedding else 1.0
        self.shared = TokenEmbedding(config.vocab_size, config.d_model, config.init_std, name=layout.shared)
        self.encoder = BartStack(layout, config, decoder=False, name=leaf(layout.encoder))
        self.decoder = BartStack(layout, config, decoder=True, name=leaf(layout.decoder))

    def build(self, input_shape=None):
        # As the reference: the shared embeddings sit outside the model's scope, at `model.shared/model.shared/`.
        with keras.name_scope(self.layout.shared, override_parent=""):
            self.shared.build(None)
        build_at(self.encoder, self.layout.encoder)
        build_at(self.decoder, self.layout.decoder)

    def get_input_embeddings(self) -> TokenEmbedding:
        """The shared token embeddings."""
        return self.shared

    @property
    def max_sequence_length(self) -> int:
        """The longest source or target (past tokens included) the position tables cover."""
        return self.encoder.embed_positions.input_dim - POSITION_OFFSET

    @property
    def decoder_stack(self) -> GroupedTransformerStack:
        """The decoder's layers."""
        return self.decoder.layers

    def _embed(self, input_ids, inputs_embeds):
        check_ids_or_embeds(input_ids, inputs_embeds)
        if inputs_embeds is None:
            inputs_embeds = self.shared(input_ids)
            if self.embed_scale != 1.0:
                inputs_embeds = inputs_embeds * tf.cast(self.embed_scale, inputs_embeds.dtype)
        return inputs_embeds

    def encode(self, input_ids=None, attention_mask=None, inputs_embeds=None, head_mask=None,
               output_attentions=False, output_hidden_states=False, training=False) -> dict:
        """The encoder: `last_hidden_state`, `hidden_states`, `attentions`."""
        stacked = self.encoder(self._embed(input_ids, inputs_embeds), attention_mask=attention_mask,
                               head_mask=head_mask, output_attentions=output_attentions,
                               output_hidden_states=output_hidden_states, training=training)
        return {key: stacked[key] for key in ("last_hidden_state", "hidden_states", "attentions")}

    def decode(self, input_ids=None, attention_mask=None, encoder_hidden_states=None, encoder_attention_mask=None,
               inputs_embeds=None, position_ids=None, head_mask=None, cross_attn_head_mask=None,
               past_key_values=None, cross_key_values=None, cache_position=None, use_cache=False,
               output_attentions=False, output_hidden_states=False, training=False) -> dict:
        """The decoder: `last_hidden_state`, `past_key_values`, `hidden_states`, `attentions`,
        `cross_attentions`. `head_mask` masks the self-attentions' heads, `cross_attn_head_mask` the
        cross-attentions' (`[heads]` or `[layers, heads]`)."""
        return self.decoder(self._embed(input_ids, inputs_embeds), attention_mask=attention_mask,
                            position_ids=position_ids, head_mask=head_mask, cross_attn_head_mask=cross_attn_head_mask,
                            encoder_hidden_states=encoder_hidden_states,
                            encoder_attention_mask=encoder_attention_mask, past_key_values=past_key_values,
                            cross_key_values=cross_key_values, cache_position=cache_position, use_cache=use_cache,
                            output_attentions=output_attentions, output_hidden_states=output_hidden_states,
                            training=training)

    def decoder_cross_key_values(self, encoder_hidden_states) -> tuple[tf.Tensor, ...]:
        """Each decoder layer's cross-attention keys and values of `encoder_hidden_states`."""
        return tuple(layer.crossattention.project_key_value(encoder_hidden_states)
                     for layer in self.decoder.layers.layer)

    def prune_heads(self, heads_to_prune: dict[int, list[int]]) -> None:
        """Refused: the reference's BART cannot prune heads either."""
        raise NotImplementedError("BART does not support head pruning.")


class BartEncoderView(Seq2SeqEncoderView):
    """`model.get_encoder()`: called with the reference's `TFBartEncoder` parameters.

    Example:
        >>> model.get_encoder()(input_ids=ids, attention_mask=mask).last_hidden_state
    """

    def __call__(self, input_ids=None, inputs_embeds=None, attention_mask=None, head_mask=None,
                 output_attentions=None, output_hidden_states=None, return_dict=None, training=False):
        return self.run(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                        head_mask=head_mask, output_attentions=output_attentions,
                        output_hidden_states=output_hidden_states, return_dict=return_dict, training=training)


class BartDecoderView(Seq2SeqDecoderView):
    """`model.get_decoder()`: called with the reference's `TFBartDecoder` parameters; `past_key_values` hold 4
    tensors per layer, as the reference's.

    Example:
        >>> out = model.get_decoder()(ids, encoder_hidden_states=states, encoder_attention_mask=mask, use_cache=True)
    """

    def __call__(self, input_ids=None, inputs_embeds=None, attention_mask=None, position_ids=None,
                 encoder_hidden_states=None, encoder_attention_mask=None, head_mask=None, cross_attn_head_mask=None,
                 past_key_values=None, use_cache=None, output_attentions=None, output_hidden_states=None,
                 return_dict=None, training=False):
        return self.run(input_ids=input_ids, attention_mask=attention_mask,
                        encoder_hidden_states=encoder_hidden_states, encoder_attention_mask=encoder_attention_mask,
                        inputs_embeds=inputs_embeds, position_ids=position_ids, head_mask=head_mask,
                        cross_attn_head_mask=cross_attn_head_mask, past_key_values=past_key_values,
                        use_cache=use_cache, output_attentions=output_attentions,
                        output_hidden_states=output_hidden_states, return_dict=return_dict, training=training)


class RootVariable(keras.layers.Layer):
    """A layer holding one variable whose path is its bare `name` (no model scope), as the reference stores
    BART's `final_logits_bias`: created when the layer is (models create their heads before opening their
    scope).

    Example:
        >>> bias = RootVariable("final_logits_bias", (1, 50265), trainable=False)
        >>> bias.variable.path
        'final_logits_bias'
    """

    def __init__(self, name: str, shape: tuple[int, ...], trainable: bool = True, **kwargs):
        super().__init__(name=name, **kwargs)
        self.variable = self._new_variable(np.zeros(shape, np.float32), trainable)

    def _new_variable(self, value: np.ndarray, trainable: bool) -> keras.Variable:
        variable = keras.Variable(value, name=self.name, trainable=trainable)
        if variable.path != self.name:
            raise RuntimeError(f"{self.name} must be created outside any name scope (its path is {variable.path!r}): "
                               "build or resize the model outside keras.name_scope.")
        return variable

    def set_value(self, value) -> None:
        """Assign `value`; a value of another shape replaces the variable (same name and path)."""
        value = np.asarray(keras.ops.convert_to_numpy(value), np.float32)
        if value.shape == tuple(self.variable.shape):
            self.variable.assign(value)
        else:
            replace_variable(self, "variable", value, make_variable=self._new_variable)


class BartLMHead(Group):
    """The LM head: the shared embeddings' transpose plus `final_logits_bias` (`[1, vocab]`, not trained, as the
    reference's). Both belong to other layers (the backbone's embeddings, the model's top-level bias layer, where
    the reference's files list it).

    Example:
        >>> head = BartLMHead(backbone.shared, bias_layer, name="lm_head_layer")
    """

    def __init__(self, embeddings: TokenEmbedding, bias_layer: RootVariable, **kwargs):
        super().__init__(**kwargs)
        self.embeddings, self.bias_layer = embeddings, bias_layer

    def build(self, input_shape=None):
        """Nothing to build: the embeddings and the bias are other layers'."""

    def call(self, hidden_states):
        logits = self.embeddings.attend(hidden_states)
        return logits + tf.cast(self.bias_layer.variable, logits.dtype)

    def get_output_embeddings(self) -> TokenEmbedding:
        """The shared embeddings."""
        return self.embeddings

    def get_bias(self) -> dict:
        """`{"final_logits_bias": variable}`, as the reference."""
        return {"final_logits_bias": self.bias_layer.variable}

    def set_bias(self, value: dict) -> None:
        """Assign `{"final_logits_bias": [1, vocab] array}`."""
        bias = self.bias_layer.variable
        array = np.asarray(keras.ops.convert_to_numpy(value["final_logits_bias"]), np.float32)
        if array.size != bias.shape[-1]:
            raise ValueError(f"final_logits_bias must have {bias.shape[-1]} values (the vocabulary); received shape "
                             f"{array.shape}. Resize the vocabulary with resize_token_embeddings first.")
        self.bias_layer.set_value(array.reshape(bias.shape))

    def resize_bias(self, new_num_tokens: int) -> None:
        """Keep the first columns of the bias, zeros for new tokens."""
        old = keras.ops.convert_to_numpy(self.bias_layer.variable)
        new = np.zeros((1, new_num_tokens), np.float32)
        new[:, : min(old.shape[1], new_num_tokens)] = old[:, :new_num_tokens]
        self.bias_layer.set_value(new)


class TFBartPreTrainedModel(Seq2SeqTaskModel):
    """BART's architecture: the `model` backbone, its weight table and heads."""

    config_class = BartConfig
    base_model_prefix = "model"
    weight_table = BART_WEIGHTS
    # The reference's attribute names of this architecture's head layers (`head_layer`).
    classification_head = HeadAttribute()
    shifts_input_ids = True  # without decoder inputs, the decoder reads the sources shifted right
    encoder_view = BartEncoderView
    decoder_view = BartDecoderView

    def make_backbone(self, config, add_pooling_layer: bool) -> BartBackbone:
        return BartBackbone(self.weight_table.blocks, config, name=self.base_model_prefix)


class TFBartModel(TFBartPreTrainedModel, Seq2SeqModelTask):
    """The bare BART encoder-decoder: the decoder's `last_hidden_state` (and `past_key_values`), then the
    encoder's outputs. Without `decoder_input_ids` the decoder reads `input_ids` shifted right.

    Example:
        >>> out = TFBartModel.from_pretrained("bart-dir")({"input_ids": ids, "decoder_input_ids": targets})
        >>> out.last_hidden_state, out.encoder_last_hidden_state
    """


class TFBartForConditionalGeneration(TFBartPreTrainedModel, Seq2SeqLMTask):
    """BART with its LM head (tied to `model.shared`, plus `final_logits_bias`): `logits` over the vocabulary; with
    `labels`, the cross entropy (-100 and `pad_token_id` ignored, as the reference; decoder inputs default to the
    labels shifted right); `generate()`.

    Example:
        >>> model = TFBartForConditionalGeneration.from_pretrained("bart-dir")
        >>> model.generate(ids, attention_mask=mask, max_new_tokens=32, num_beams=4)
    """

    masks_pad_labels = True  # as the reference: labels equal to pad_token_id are ignored, like -100

    def make_lm_head(self, config) -> None:
        # The bias layer first: it is the top-level layer whose group lists `final_logits_bias` in h5 files.
        self.final_logits_bias_layer = RootVariable(self.head_paths("seq2seq_lm")["final_logits_bias"],
                                                    (1, config.vocab_size), trainable=False)
        self.lm_head_layer = BartLMHead(self.backbone.shared, self.final_logits_bias_layer, name="lm_head_layer")

    def lm_logits(self, hidden_states):
        return self.lm_head_layer(hidden_states)

    def get_output_embeddings(self) -> TokenEmbedding:
        """The shared embeddings (the LM head is tied to them)."""
        return self.backbone.shared

    @property
    def final_logits_bias(self) -> keras.Variable:
        """The `[1, vocab]` bias added to the logits."""
        return self.final_logits_bias_layer.variable

    def set_bias(self, value: dict) -> None:
        """Set `final_logits_bias` from `{"final_logits_bias": array}` (the vocabulary size stays)."""
        self.lm_head_layer.set_bias(value)


class TFBartForSequenceClassification(TFBartPreTrainedModel, Seq2SeqSequenceClassificationTask):
    """BART classifying from the decoder's state at the last `<eos>` token (`classification_head`: dense, tanh,
    `out_proj`); every row of `input_ids` must hold the same number of `<eos>` tokens.

    Example:
        >>> model = TFBartForSequenceClassification.from_pretrained("bart-dir", num_labels=3)
        >>> model({"input_ids": ids, "attention_mask": mask}, labels=labels).logits  # [batch, 3]
    """

    def make_classification_head(self, config) -> None:
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.dropout
        self.classification_head = ClassifierHead("first_token", config.num_labels, config.d_model,
                                                  self.head_paths("sequence_classification"), dropout=dropout,
                                                  activation="tanh", initializer_range=config.init_std,
                                                  name="classification_head_layer")

    def classify(self, sentence_representation, training):
        return self.classification_head(sentence_representation[:, None, :], training=training)
