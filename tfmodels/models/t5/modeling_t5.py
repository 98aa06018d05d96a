"""T5 (v1.0 and v1.1) and its classes, assembled from the kit: pre-norm RMS-normalised layers without biases or
attention scaling, a relative position bias computed once per stack from the first layer's buckets, the encoder
and decoder sharing one embedding matrix (`shared`)."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfmodels.checkpoints.names import path_pattern
from tfmodels.layers.attention import AttentionContext, KVCache, cross_inputs
from tfmodels.layers.core import head_mask_5d, padding_bias
from tfmodels.layers.decoder import LMHead
from tfmodels.layers.embeddings import TokenEmbedding
from tfmodels.layers.encoder import cached_length, check_ids_or_embeds, self_attention_bias
from tfmodels.layers.normalization import RMSNorm
from tfmodels.layers.paths import Group, build_at, leaf
from tfmodels.layers.relative_position import RelativePositionBias
from tfmodels.layers.transformer import Collect, GroupedTransformerStack, LayerSpec, transformer_layers
from tfmodels.call_inputs import unpack_inputs
from tfmodels.modeling_outputs import ModelOutput, TFBaseModelOutput, TFBaseModelOutputWithPastAndCrossAttentions
from tfmodels.models.t5.configuration_t5 import T5Config
from tfmodels.models.t5.weights_t5 import T5_WEIGHTS, T5Layout, t5_layer_names
from tfmodels.seq2seq import Seq2SeqDecoderView, Seq2SeqEncoderView, Seq2SeqLMTask, Seq2SeqModelTask
from tfmodels.tasks import TaskModel


def t5_layer_spec(config: T5Config, decoder: bool) -> LayerSpec:
    """T5's block: pre-norm with RMS norms, no biases, unscaled attention over `num_heads` heads of `d_kv`, dropout
    after the feed-forward activation; gated for `gated-...` feed-forward projections (v1.1)."""
    return LayerSpec(
        hidden_size=config.d_model, num_heads=config.num_heads, intermediate_size=config.d_ff,
        activation=config.dense_act_fn, hidden_dropout=config.dropout_rate, attention_dropout=config.dropout_rate,
        layer_norm_eps=config.layer_norm_epsilon, initializer_range=config.initializer_factor * config.d_model ** -0.5,
        norm_first=True, cross_attention=decoder, scale_attention=False, norm="rms",
        ffn="gated" if config.is_gated_act else "plain", ffn_bias=False, dropout_inside_ffn=True,
        head_dim=config.d_kv, attention_bias=False, attention_output_bias=False,
    )


class T5Stack(keras.layers.Layer):
    """T5's encoder or decoder (`decoder=True`: causal, a key/value cache, cross-attention): the shared token
    embeddings (`embed_tokens`, owned by the backbone), the blocks, the final RMS norm and dropouts. The relative position bias (bidirectional buckets in the encoder,
    causal in the decoder) is computed once per pass, from the first block's `relative_attention_bias`, and added
    to every block's self-attention scores with the padding (and causal) bias.

    Example:
        >>> encoder = T5Stack(T5Layout(), config, decoder=False, embed_tokens=shared, name="encoder")
        >>> encoder(input_ids=ids, attention_mask=mask)["last_hidden_state"]
    """

    def __init__(self, layout: T5Layout, config: T5Config, decoder: bool, embed_tokens: TokenEmbedding, **kwargs):
        super().__init__(**kwargs)
        self.layout, self.is_decoder, self.d_model = layout, decoder, config.d_model
        self.embed_tokens = embed_tokens  # built by the backbone; its weight is listed here too, as the reference
        self.num_steps = config.num_decoder_layers if decoder else config.num_layers
        # Created first: its variable leads the first block's in the reference's files.
        self.relative_attention_bias = RelativePositionBias(
            config.relative_attention_num_buckets, config.relative_attention_max_distance, config.num_heads,
            bidirectional=not decoder, initializer_range=config.initializer_factor * config.d_model ** -0.5,
            name=leaf(layout.relative_attention_bias))
        paths = [layout.layer.format(i=i) for i in range(self.num_steps)]
        layers = transformer_layers(t5_layer_spec(config, decoder), t5_layer_names(decoder, config.is_gated_act), paths)
        self.block = GroupedTransformerStack(layers, paths, name="block")
        self.final_layer_norm = RMSNorm(config.layer_norm_epsilon, name=leaf(layout.final_norm))
        self.dropout = keras.layers.Dropout(config.dropout_rate, name="dropout")

    def build(self, input_shape=None):
        build_at(self.relative_attention_bias, self.layout.relative_attention_bias)
        self.block.build(None)
        build_at(self.final_layer_norm, self.layout.final_norm, (None, None, self.d_model))

    def call(self, input_ids=None, attention_mask=None, inputs_embeds=None, encoder_hidden_states=None,
             encoder_attention_mask=None, head_mask=None, past_key_values=None, cache_position=None, use_cache=False,
             cross_key_values=None, output_attentions=False, output_hidden_states=False, cross_attn_head_mask=None,
             training=False):
        """Token ids (or `inputs_embeds`, `[batch, seq, d_model]`); the decoder also takes the encoder's states (or
        each block's cross-attention keys/values, `cross_key_values`) and a cache. Returns the last hidden state
        (after the final norm) and, when asked, every block's input and the final output (`hidden_states`),
        attentions and the cache."""
        check_ids_or_embeds(input_ids, inputs_embeds)
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        hidden_states = self.dropout(inputs_embeds, training=training)
        past_length = cached_length(past_key_values, cache_position)
        bias = self_attention_bias(hidden_states, attention_mask, past_length, past_key_values, cache_position,
                                   causal=self.is_decoder)
        query_length = tf.shape(hidden_states)[1]
        key_length = tf.shape(bias)[-1]
        position_bias = self.relative_attention_bias.position_bias(query_length, key_length, past_length)
        bias = bias + tf.cast(position_bias, bias.dtype)
        encoder_bias = None
        if encoder_attention_mask is not None:
            encoder_bias = padding_bias(encoder_attention_mask, hidden_states.dtype)
        stacked = self.block(
            hidden_states, context=AttentionContext(bias), head_masks=head_mask_5d(head_mask, self.num_steps),
            cache=KVCache(past_key_values, cache_position, bool(use_cache and self.is_decoder)),
            cross=cross_inputs(encoder_hidden_states, encoder_bias, cross_key_values,
                               head_mask_5d(cross_attn_head_mask, self.num_steps)),
            collect=Collect(bool(output_attentions), bool(output_hidden_states)), training=training,
        )
        last = self.dropout(self.final_layer_norm(stacked["last_hidden_state"]), training=training)
        return TFBaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=last, past_key_values=stacked["past_key_values"],
            hidden_states=stacked["hidden_states"][:-1] + (last,) if output_hidden_states else None,
            attentions=stacked["attentions"], cross_attentions=stacked["cross_attentions"],
        )


class T5Backbone(Group):
    """The shared embeddings, the encoder and (unless `encoder_only`) the decoder, at the paths of `layout`; it
    adds no scope of its own (the reference's stacks sit directly under the model).

    Example:
        >>> backbone = T5Backbone(T5Layout(), config, name="transformer")
        >>> states = backbone.encode(input_ids=ids, attention_mask=mask)["last_hidden_state"]
    """

    def __init__(self, layout: T5Layout, config: T5Config, encoder_only: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.layout = layout
        self.shared = TokenEmbedding(config.vocab_size, config.d_model, config.initializer_factor,
                                     name=layout.shared)
        self.encoder = T5Stack(layout, config, False, self.shared, name=leaf(layout.encoder))
        self.decoder = None if encoder_only else T5Stack(layout, config, True, self.shared, name=leaf(layout.decoder))

    def build(self, input_shape=None):
        # As the reference: the shared embeddings sit outside the model's scope, at `shared/shared/embeddings`.
        with keras.name_scope(self.layout.shared, override_parent=""):
            self.shared.build(None)
        build_at(self.encoder, self.layout.encoder)
        if self.decoder is not None:
            build_at(self.decoder, self.layout.decoder)

    def get_input_embeddings(self) -> TokenEmbedding:
        """The shared embeddings (`shared`)."""
        return self.shared

    def encode(self, input_ids=None, attention_mask=None, inputs_embeds=None, head_mask=None,
               output_attentions=False, output_hidden_states=False, training=False):
        """The encoder on token ids (or embeddings)."""
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                            head_mask=head_mask, output_attentions=output_attentions,
                            output_hidden_states=output_hidden_states, training=training)

    def decode(self, input_ids=None, attention_mask=None, encoder_hidden_states=None, encoder_attention_mask=None,
               inputs_embeds=None, position_ids=None, head_mask=None, cross_attn_head_mask=None,
               past_key_values=None, cross_key_values=None, cache_position=None, use_cache=False,
               output_attentions=False, output_hidden_states=False, training=False):
        """The decoder on token ids (or embeddings), attending to the encoder's states (or their per-block
        cross-attention keys/values). `position_ids` are not used: T5's positions are relative (the cache position
        places new tokens). `head_mask` masks the self-attentions' heads, `cross_attn_head_mask` the
        cross-attentions'."""
        return self.decoder(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                            head_mask=head_mask, cross_attn_head_mask=cross_attn_head_mask,
                            encoder_hidden_states=encoder_hidden_states,
                            encoder_attention_mask=encoder_attention_mask, past_key_values=past_key_values,
                            cache_position=cache_position, use_cache=use_cache, cross_key_values=cross_key_values,
                            output_attentions=output_attentions, output_hidden_states=output_hidden_states,
                            training=training)

    @property
    def decoder_stack(self) -> GroupedTransformerStack:
        """The decoder's blocks."""
        return self.decoder.block

    def decoder_cross_key_values(self, encoder_hidden_states) -> tuple[tf.Tensor, ...]:
        """Each decoder block's cross-attention keys and values of `encoder_hidden_states`, computed once for a
        whole generation: `[2, batch, heads, source length, d_kv]` per block."""
        return tuple(layer.crossattention.project_key_value(encoder_hidden_states)
                     for layer in self.decoder.block.layer)


class T5StackView:
    """`model.get_encoder()` / `model.get_decoder()`: T5's encoder or decoder, called with the reference's
    `TFT5MainLayer` parameters (`encoder_head_mask` masks the decoder's cross-attentions); the decoder's
    `past_key_values` hold 4 tensors per layer, as the reference's.

    Example:
        >>> states = model.get_encoder()(ids, attention_mask=mask).last_hidden_state
        >>> model.get_decoder()(decoder_ids, encoder_hidden_states=states, encoder_attention_mask=mask)
    """

    def __init__(self, encoder: Seq2SeqEncoderView | None, decoder: Seq2SeqDecoderView | None):
        self.encoder, self.decoder = encoder, decoder

    @property
    def layer(self) -> list:
        """The stack's blocks."""
        stack = self.decoder.backbone.decoder_stack if self.decoder else self.encoder.backbone.encoder.block
        return stack.layer

    def __call__(self, input_ids=None, attention_mask=None, encoder_hidden_states=None, encoder_attention_mask=None,
                 inputs_embeds=None, head_mask=None, encoder_head_mask=None, past_key_values=None, use_cache=None,
                 output_attentions=None, output_hidden_states=None, return_dict=None, training=False):
        flags = dict(output_attentions=output_attentions, output_hidden_states=output_hidden_states,
                     return_dict=return_dict, training=training)
        if self.decoder is not None:
            return self.decoder.run(input_ids=input_ids, attention_mask=attention_mask,
                                    encoder_hidden_states=encoder_hidden_states,
                                    encoder_attention_mask=encoder_attention_mask, inputs_embeds=inputs_embeds,
                                    head_mask=head_mask, cross_attn_head_mask=encoder_head_mask,
                                    past_key_values=past_key_values, use_cache=use_cache, **flags)
        given = [name for name, value in (("encoder_hidden_states", encoder_hidden_states),
                                          ("encoder_attention_mask", encoder_attention_mask),
                                          ("encoder_head_mask", encoder_head_mask),
                                          ("past_key_values", past_key_values)) if value is not None]
        if given:
            raise ValueError(f"The T5 encoder attends to its own inputs only; received {given}. Pass them to "
                             "model.get_decoder().")
        return self.encoder.run(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                                head_mask=head_mask, **flags)


class TFT5PreTrainedModel(TaskModel):
    """T5's architecture: the shared embeddings, encoder and decoder (no scope of their own: `encoder/...`,
    `decoder/...`) and its weight table. The classes take the reference's inputs in its order, `labels` at its slot
    (no decoder positions: T5's are relative)."""

    config_class = T5Config
    base_model_prefix = "transformer"
    weight_table = T5_WEIGHTS
    encoder_only = False

    def make_backbone(self, config, add_pooling_layer: bool) -> T5Backbone:
        return T5Backbone(self.weight_table.blocks, config, encoder_only=self.encoder_only,
                          name=self.base_model_prefix)

    def h5_layers(self) -> list[keras.layers.Layer]:
        """The reference's top-level layers: `shared`, `encoder`, `decoder` (the backbone adds no scope), then the
        head."""
        backbone = self.backbone
        stacks = [layer for layer in (backbone.shared, backbone.encoder, backbone.decoder) if layer is not None]
        return stacks + [layer for layer in self.layers if layer is not backbone]

    def get_encoder(self) -> T5StackView:
        """The encoder, called as the reference's (`TFT5MainLayer`)."""
        return T5StackView(Seq2SeqEncoderView(self.backbone), None)

    def get_decoder(self) -> T5StackView:
        """The decoder, called as the reference's (`TFT5MainLayer`); its blocks are `get_decoder().layer`."""
        if self.encoder_only:
            raise AttributeError(f"{type(self).__name__} is T5's encoder alone: it has no decoder.")
        return T5StackView(None, Seq2SeqDecoderView(self.backbone))

    def decoder_head_masks(self, inputs: dict) -> tuple:
        """As the reference: `decoder_head_mask` defaults to `head_mask`; the bare model's cross-attentions are
        masked by `head_mask` (the encoder's), the LM's are not masked."""
        head_mask, decoder_head_mask = inputs.get("head_mask"), inputs.get("decoder_head_mask")
        decoder_head_mask = head_mask if decoder_head_mask is None else decoder_head_mask
        return decoder_head_mask, head_mask if self.bare_backbone else None

    def ignored_on_load(self) -> tuple[list[str], list[str]]:
        """Not reported as unused: an `lm_head` where this model has none (tied, or no LM head), and the decoder
        when this model is the encoder alone."""
        missing, unexpected = super().ignored_on_load()
        if getattr(self.get_lm_head(), "lm_head", None) is None:
            unexpected.append(path_pattern("lm_head"))
        if self.encoder_only:
            unexpected.append(path_pattern(self.weight_table.blocks.decoder))
        return missing, unexpected


class TFT5Model(TFT5PreTrainedModel, Seq2SeqModelTask):
    """The bare T5 encoder-decoder: the decoder's `last_hidden_state` (and, with `use_cache`, `past_key_values`),
    then the encoder's outputs (`encoder_last_hidden_state`, ...).

    Example:
        >>> model = TFT5Model.from_pretrained("t5-dir")
        >>> model({"input_ids": ids, "decoder_input_ids": decoder_ids}).last_hidden_state
    """

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
             head_mask=None, decoder_head_mask=None, encoder_outputs=None, past_key_values=None, inputs_embeds=None,
             decoder_inputs_embeds=None, use_cache=None, output_attentions=None, output_hidden_states=None,
             return_dict=None, training=False) -> ModelOutput | tuple:
        return self.run_task(locals())


class TFT5ForConditionalGeneration(TFT5PreTrainedModel, Seq2SeqLMTask):
    """T5 with its language-modelling head: v1.0 (`tie_word_embeddings=True`) projects the decoder output, scaled
    by `d_model ** -0.5`, onto the shared embeddings; v1.1 has its own `lm_head`. With `labels`, the cross
    entropy over the labels that are not -100, and decoder inputs default to the labels shifted right.
    `generate()` encodes once and decodes with cached self- and cross-attention keys and values.

    Example:
        >>> model = TFT5ForConditionalGeneration.from_pretrained("t5-dir")
        >>> model({"input_ids": ids, "attention_mask": mask}, labels=labels).loss  # per example, shape [batch]
        >>> model.generate(ids, attention_mask=mask, max_new_tokens=20, num_beams=4)
    """

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
             head_mask=None, decoder_head_mask=None, encoder_outputs=None, past_key_values=None, inputs_embeds=None,
             decoder_inputs_embeds=None, labels=None, use_cache=None, output_attentions=None,
             output_hidden_states=None, return_dict=None, training=False) -> ModelOutput | tuple:
        return self.run_task(locals())

    @property
    def lm_head(self) -> keras.layers.Layer:
        """The `lm_head` projection (the reference's attribute; v1.1), or, tied, the head over the shared
        embeddings."""
        return self.lm_head_layer.lm_head or self.lm_head_layer

    def make_lm_head(self, config) -> None:
        tied = self.backbone.get_input_embeddings() if config.tie_word_embeddings else None
        self.lm_head_layer = LMHead(config.vocab_size, config.d_model, self.head_paths("seq2seq_lm")["lm_head"],
                                    tied, config.initializer_factor, name="lm_head_layer")

    def lm_logits(self, hidden_states: tf.Tensor) -> tf.Tensor:
        """The vocabulary logits; tied to the embeddings, of the hidden states scaled by `d_model ** -0.5` (a
        config saved by transformers 5 says so in `scale_decoder_outputs`)."""
        if getattr(self.config, "scale_decoder_outputs", self.config.tie_word_embeddings):
            hidden_states = hidden_states * tf.cast(self.config.d_model ** -0.5, hidden_states.dtype)
        return self.lm_head_layer(hidden_states)


class TFT5EncoderModel(TFT5PreTrainedModel):
    """T5's encoder alone (the decoder's weights in a checkpoint are ignored): `last_hidden_state` and, when
    asked, `hidden_states` and `attentions`.

    Example:
        >>> model = TFT5EncoderModel.from_pretrained("t5-dir")
        >>> model({"input_ids": ids, "attention_mask": mask}).last_hidden_state  # [batch, seq, d_model]
    """

    encoder_only = True
    bare_backbone = True

    def forward(self, inputs, labels, training):
        return TFBaseModelOutput(**self.backbone.encode(**inputs, training=training))

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, head_mask=None, inputs_embeds=None, output_attentions=None,
             output_hidden_states=None, return_dict=None, training=False) -> ModelOutput | tuple:
        return self.run_task(locals())
