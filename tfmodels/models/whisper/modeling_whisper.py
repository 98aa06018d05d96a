"""Whisper on the seq2seq kit: the audio encoder (two convolutions with GELU on the log-mel features, the stored
positions, pre-norm layers, a final LayerNorm), the text decoder (token and learned positions, pre-norm layers with
cross-attention, a final LayerNorm) and the LM head tied to the decoder's token embeddings. Each attention's key
projection has no bias (`WhisperSelfAttention`, `WhisperCrossAttention`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfmodels import input_checks
from tfmodels.audio_processing import WhisperFeatureExtractor
from tfmodels.call_inputs import unpack_inputs
from tfmodels.generation.configuration import GenerationConfig
from tfmodels.layers.attention import AttentionContext, CrossAttention, KVCache, SelfAttention, cross_inputs
from tfmodels.layers.core import get_activation, get_initializer, head_mask_5d, shape_dim
from tfmodels.layers.embeddings import TokenEmbedding
from tfmodels.layers.encoder import cached_length, check_ids_or_embeds, self_attention_bias
from tfmodels.layers.heads import TiedLMHead
from tfmodels.layers.paths import build_at, leaf
from tfmodels.layers.transformer import Collect, GroupedTransformerStack, LayerNames, LayerSpec, TransformerLayer
from tfmodels.modeling_outputs import ModelOutput, TFBaseModelOutput
from tfmodels.models.whisper.configuration_whisper import WhisperConfig
from tfmodels.models.whisper.weights_whisper import WHISPER_WEIGHTS, WhisperLayout
from tfmodels.preprocessor_files import PREPROCESSOR_CONFIG
from tfmodels.seq2seq import Seq2SeqDecoderView, Seq2SeqLMTask, Seq2SeqModelTask, Seq2SeqTaskModel

LAYER_NORM_EPS = 1e-5  # fixed in the reference


class WhisperSelfAttention(SelfAttention):
    """Self-attention whose key projection has no bias (the query's and value's do)."""

    projections_without_bias = ("key",)


class WhisperCrossAttention(CrossAttention):
    """Cross-attention whose key projection has no bias."""

    projections_without_bias = ("key",)


class WhisperLayer(TransformerLayer):
    """The kit's pre-norm layer with Whisper's attention blocks."""

    self_attention_class = WhisperSelfAttention
    cross_attention_class = WhisperCrossAttention


def whisper_stack(config: WhisperConfig, names: LayerNames, layout: WhisperLayout,
                  decoder: bool) -> GroupedTransformerStack:
    """The encoder's or the decoder's layers, directly under the stack (`layers.0`, ...)."""
    spec = LayerSpec(
        hidden_size=config.d_model,
        num_heads=config.decoder_attention_heads if decoder else config.encoder_attention_heads,
        intermediate_size=config.decoder_ffn_dim if decoder else config.encoder_ffn_dim,
        activation=config.activation_function, hidden_dropout=config.dropout,
        attention_dropout=config.attention_dropout, layer_norm_eps=LAYER_NORM_EPS, initializer_range=config.init_std,
        norm_first=True, cross_attention=decoder, dropout_inside_ffn=config.activation_dropout > 0,
    )
    count = config.decoder_layers if decoder else config.encoder_layers
    paths = [layout.layer.format(i=i) for i in range(count)]
    return GroupedTransformerStack([WhisperLayer(spec, names, i, name=leaf(path)) for i, path in enumerate(paths)],
                                   paths, name="layers")


def _normed_states(stacked: dict, norm: keras.layers.Layer) -> tuple[tf.Tensor, tuple | None]:
    """The stack's output after the final LayerNorm, and its hidden states with the last one normed (as the
    reference lists them)."""
    last = norm(stacked["last_hidden_state"])
    hidden = stacked["hidden_states"]
    return last, None if hidden is None else hidden[:-1] + (last,)


class WhisperEncoder(keras.layers.Layer):
    """`encoder`: `conv1` (kernel 3) and `conv2` (kernel 3, stride 2) with GELU on `[batch, mel, frames]`, plus the
    stored positions (`embed_positions`, one per output frame: `2 * max_source_positions` input frames), then the
    layers and `layer_norm`.

    Example:
        >>> encoder(input_features)["last_hidden_state"]  # [batch, max_source_positions, d_model]
    """

    def __init__(self, layout: WhisperLayout, config: WhisperConfig, **kwargs):
        super().__init__(**kwargs)
        self.layout, self.hidden, self.num_mel_bins = layout, config.d_model, config.num_mel_bins
        init = get_initializer(config.init_std)
        first, second = layout.convolutions
        self.conv1 = keras.layers.Conv1D(config.d_model, 3, kernel_initializer=init, name=first)
        self.conv2 = keras.layers.Conv1D(config.d_model, 3, strides=2, kernel_initializer=init, name=second)
        self.layers = whisper_stack(config, layout.encoder_layer, layout, decoder=False)
        self.layer_norm = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPS, name=layout.final_norm)
        # Last, as in the reference's files (its TF layer creates the table on the first call).
        self.embed_positions = TokenEmbedding(config.max_source_positions, config.d_model, config.init_std,
                                              variable_name="weight", name=layout.positions)
        self.dropout = keras.layers.Dropout(config.dropout)
        self.gelu = get_activation("gelu")

    def build(self, input_shape=None):
        build_at(self.conv1, self.conv1.name, (None, None, self.num_mel_bins))
        build_at(self.conv2, self.conv2.name, (None, None, self.hidden))
        self.layers.build(None)
        build_at(self.layer_norm, self.layout.final_norm, (None, None, self.hidden))
        build_at(self.embed_positions, self.layout.positions)

    def call(self, input_features, head_mask=None, output_attentions=False, output_hidden_states=False,
             training=False):
        frames = tf.cast(tf.transpose(input_features, [0, 2, 1]), self.compute_dtype)  # [batch, frames, mel]
        padding = [[0, 0], [1, 1], [0, 0]]
        hidden_states = self.gelu(self.conv1(tf.pad(frames, padding)))
        hidden_states = self.gelu(self.conv2(tf.pad(hidden_states, padding)))
        positions = tf.cast(self.embed_positions.embeddings, hidden_states.dtype)
        hidden_states = self.dropout(hidden_states + positions[None], training=training)
        stacked = self.layers(hidden_states, context=AttentionContext(),
                              head_masks=head_mask_5d(head_mask, len(self.layers)),
                              collect=Collect(bool(output_attentions), bool(output_hidden_states)), training=training)
        last, hidden = _normed_states(stacked, self.layer_norm)
        return {"last_hidden_state": last, "hidden_states": hidden, "attentions": stacked["attentions"]}


class WhisperDecoder(keras.layers.Layer):
    """`decoder`: token embeddings plus learned positions (from the cached length), causal pre-norm layers with
    cross-attention to the encoder's states, and `layer_norm`.

    Example:
        >>> decoder(ids, encoder_hidden_states=states)["last_hidden_state"]
    """

    def __init__(self, layout: WhisperLayout, config: WhisperConfig, **kwargs):
        super().__init__(**kwargs)
        self.layout, self.hidden = layout, config.d_model
        self.embed_tokens = TokenEmbedding(config.vocab_size, config.d_model, config.init_std,
                                           name=layout.embed_tokens)
        self.embed_positions = TokenEmbedding(config.max_target_positions, config.d_model, config.init_std,
                                              variable_name="weight", name=layout.positions)
        self.layers = whisper_stack(config, layout.decoder_layer, layout, decoder=True)
        self.layer_norm = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPS, name=layout.final_norm)
        self.dropout = keras.layers.Dropout(config.dropout)
        self.embed_scale = float(config.d_model) ** 0.5 if config.scale_embedding else 1.0

    def build(self, input_shape=None):
        build_at(self.embed_tokens, self.layout.embed_tokens)
        build_at(self.embed_positions, self.layout.positions)
        self.layers.build(None)
        build_at(self.layer_norm, self.layout.final_norm, (None, None, self.hidden))

    def call(self, input_ids=None, attention_mask=None, encoder_hidden_states=None, inputs_embeds=None,
             position_ids=None, head_mask=None, cross_attn_head_mask=None, past_key_values=None,
             cross_key_values=None, cache_position=None, use_cache=False, output_attentions=False,
             output_hidden_states=False, training=False):
        check_ids_or_embeds(input_ids, inputs_embeds)
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids) * tf.cast(self.embed_scale, self.compute_dtype)
        past_length = cached_length(past_key_values, cache_position)
        if position_ids is None:
            position_ids = tf.range(past_length, past_length + shape_dim(inputs_embeds, 1))[None, :]
        hidden_states = self.dropout(inputs_embeds + self.embed_positions(position_ids), training=training)
        bias = self_attention_bias(hidden_states, attention_mask, past_length, past_key_values, cache_position,
                                   causal=True)
        cross = cross_inputs(encoder_hidden_states, None, cross_key_values,
                             head_mask_5d(cross_attn_head_mask, len(self.layers)))
        stacked = self.layers(
            hidden_states, context=AttentionContext(bias), head_masks=head_mask_5d(head_mask, len(self.layers)),
            cache=KVCache(past_key_values, cache_position, bool(use_cache)), cross=cross,
            collect=Collect(bool(output_attentions), bool(output_hidden_states)), training=training)
        last, hidden = _normed_states(stacked, self.layer_norm)
        return {**stacked, "last_hidden_state": last, "hidden_states": hidden}


class WhisperBackbone(keras.layers.Layer):
    """Whisper's `model`: the encoder and the decoder; implements the backbone contract of `tfmodels.seq2seq`.

    Example:
        >>> backbone.encode(input_features=features)["last_hidden_state"]
    """

    def __init__(self, layout: WhisperLayout, config: WhisperConfig, **kwargs):
        super().__init__(**kwargs)
        self.layout = layout
        self.encoder = WhisperEncoder(layout, config, name=layout.encoder)
        self.decoder = WhisperDecoder(layout, config, name=layout.decoder)

    def build(self, input_shape=None):
        build_at(self.encoder, self.layout.encoder)
        build_at(self.decoder, self.layout.decoder)

    def get_input_embeddings(self) -> TokenEmbedding:
        """The decoder's token embeddings."""
        return self.decoder.embed_tokens

    @property
    def decoder_stack(self) -> GroupedTransformerStack:
        return self.decoder.layers

    def encode(self, input_features=None, head_mask=None, output_attentions=False, output_hidden_states=False,
               training=False) -> dict:
        """The encoder: `last_hidden_state`, `hidden_states`, `attentions`."""
        return self.encoder(input_features, head_mask=head_mask, output_attentions=output_attentions,
                            output_hidden_states=output_hidden_states, training=training)

    def decode(self, input_ids=None, attention_mask=None, encoder_hidden_states=None, encoder_attention_mask=None,
               inputs_embeds=None, position_ids=None, head_mask=None, cross_attn_head_mask=None,
               past_key_values=None, cross_key_values=None, cache_position=None, use_cache=False,
               output_attentions=False, output_hidden_states=False, training=False) -> dict:
        """The decoder (the encoder's states need no mask: `encoder_attention_mask` is accepted and unused, as
        the reference)."""
        return self.decoder(input_ids, attention_mask=attention_mask, encoder_hidden_states=encoder_hidden_states,
                            inputs_embeds=inputs_embeds, position_ids=position_ids, head_mask=head_mask,
                            cross_attn_head_mask=cross_attn_head_mask, past_key_values=past_key_values,
                            cross_key_values=cross_key_values, cache_position=cache_position, use_cache=use_cache,
                            output_attentions=output_attentions, output_hidden_states=output_hidden_states,
                            training=training)

    def decoder_cross_key_values(self, encoder_hidden_states) -> tuple[tf.Tensor, ...]:
        """Each decoder layer's cross-attention keys and values of `encoder_hidden_states`."""
        return tuple(layer.crossattention.project_key_value(encoder_hidden_states)
                     for layer in self.decoder.layers.layer)


class WhisperEncoderView:
    """`model.get_encoder()`: called with the reference's `TFWhisperEncoder` parameters.

    Example:
        >>> model.get_encoder()(input_features).last_hidden_state
    """

    def __init__(self, backbone: WhisperBackbone):
        self.backbone = backbone

    def __call__(self, input_features, head_mask=None, output_attentions=None, output_hidden_states=None,
                 return_dict=None, training=False):
        encoded = self.backbone.encode(input_features, head_mask=head_mask, output_attentions=bool(output_attentions),
                                       output_hidden_states=bool(output_hidden_states), training=training)
        output = TFBaseModelOutput(**encoded)
        return output if return_dict is not False else output.to_tuple()


class WhisperDecoderView(Seq2SeqDecoderView):
    """`model.get_decoder()`: called with the reference's `TFWhisperDecoder` parameters."""

    def __call__(self, input_ids=None, attention_mask=None, position_ids=None, encoder_hidden_states=None,
                 head_mask=None, cross_attn_head_mask=None, past_key_values=None, inputs_embeds=None, use_cache=None,
                 output_attentions=None, output_hidden_states=None, return_dict=None, training=False):
        return self.run(input_ids=input_ids, attention_mask=attention_mask,
                        encoder_hidden_states=encoder_hidden_states, inputs_embeds=inputs_embeds,
                        position_ids=position_ids, head_mask=head_mask, cross_attn_head_mask=cross_attn_head_mask,
                        past_key_values=past_key_values, use_cache=use_cache, output_attentions=output_attentions,
                        output_hidden_states=output_hidden_states, return_dict=return_dict, training=training)


class TFWhisperPreTrainedModel(Seq2SeqTaskModel):
    """Whisper's architecture: the `model` backbone, its weight table, the encoder's inputs (`input_features`
    `[batch, num_mel_bins, 2 * max_source_positions]`, the log-mel features of `WhisperFeatureExtractor`) and
    their checks."""

    config_class = WhisperConfig
    base_model_prefix = "model"
    weight_table = WHISPER_WEIGHTS
    main_input_name = "input_features"
    encoder_view = WhisperEncoderView
    decoder_view = WhisperDecoderView

    def make_backbone(self, config, add_pooling_layer: bool) -> WhisperBackbone:
        return WhisperBackbone(self.weight_table.blocks, config, name=self.base_model_prefix)

    def encoder_inputs(self, inputs: dict) -> dict:
        return {"input_features": inputs.get("input_features"), "head_mask": inputs.get("head_mask")}

    def max_sequence_length(self) -> int | None:
        return self.config.max_target_positions

    def check_inputs(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """`input_features` (unless `encoder_outputs` are given): floats `[batch, num_mel_bins, 2 *
        max_source_positions]`; the decoder's ids and lengths as every decoder's."""
        config = self.config
        if arguments.get("encoder_outputs") is None:
            arguments = input_checks.check_audio_features(arguments, config.num_mel_bins,
                                                          2 * config.max_source_positions)
        table = self.get_input_embeddings().embeddings
        return input_checks.check_model_inputs(arguments, table.shape[0], table.shape[1], self.max_sequence_length(),
                                               (2,), None, "decoder_input_ids")

    @property
    def input_signature(self) -> dict[str, tf.TensorSpec]:
        """`input_features` float32 `[batch, num_mel_bins, 2 * max_source_positions]`, `decoder_input_ids` and
        `decoder_attention_mask` (int32 `[batch, length]`)."""
        config = self.config
        return {"input_features": tf.TensorSpec([None, config.num_mel_bins, 2 * config.max_source_positions],
                                                tf.float32, name="input_features"),
                **{name: tf.TensorSpec([None, None], tf.int32, name=name)
                   for name in ("decoder_input_ids", "decoder_attention_mask")}}

    def make_dummy_inputs(self, batch_size: int = 1, length: int = 2, num_choices: int = 2) -> dict[str, tf.Tensor]:
        """`batch_size` rows of features (a ramp from -1 to 1) and `length` decoder ids (the start token, then 1,
        2, ...)."""
        spec = self.input_signature["input_features"]
        shape = [batch_size, *spec.shape[1:]]
        features = tf.reshape(tf.linspace(-1.0, 1.0, int(tf.reduce_prod(shape))), shape)
        ids = tf.concat([tf.fill([batch_size, 1], self.config.decoder_start_token_id),
                         tf.reshape(tf.range(1, length) % (self.config.vocab_size - 1), [1, -1])
                         * tf.ones([batch_size, 1], tf.int32)], axis=1)
        return {"input_features": features, "decoder_input_ids": ids, "decoder_attention_mask": tf.ones_like(ids)}

    def prune_heads(self, heads_to_prune: dict[int, list[int]]) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not support head pruning.")

    # ---- the feature extractor that travels with the model ------------------------------------------------------
    def default_feature_extractor(self) -> WhisperFeatureExtractor | None:
        """The extractor of a checkpoint without `preprocessor_config.json`: the reference's, with the model's mel
        bins, 30 s at 16 kHz in `2 * max_source_positions` frames; None when no whole hop length gives them."""
        frames = 2 * self.config.max_source_positions
        samples = 30 * 16000
        if samples % frames:
            return None
        return WhisperFeatureExtractor(feature_size=self.config.num_mel_bins, hop_length=samples // frames)

    @property
    def feature_extractor(self) -> WhisperFeatureExtractor:
        """The checkpoint's `WhisperFeatureExtractor` (`preprocessor_config.json`), else
        `default_feature_extractor()`; set it to change what `save_pretrained` writes and what the export's
        `generate_from_audio` runs.

        Example:
            >>> features = model.feature_extractor(waveforms, sampling_rate=16000)["input_features"]
        """
        if self.runtime_state.preprocessor is None:  # made once: prepare_tf_dataset reads it every batch
            self.runtime_state.preprocessor = self.default_feature_extractor()
        if self.runtime_state.preprocessor is None:
            frames = 2 * self.config.max_source_positions
            raise ValueError(f"No default feature extractor gives {frames} frames for 30 s at 16 kHz; set "
                             "model.feature_extractor = WhisperFeatureExtractor(...) with matching settings.")
        return self.runtime_state.preprocessor

    @feature_extractor.setter
    def feature_extractor(self, extractor: WhisperFeatureExtractor) -> None:
        if not isinstance(extractor, WhisperFeatureExtractor):
            raise TypeError(f"feature_extractor must be a tfmodels WhisperFeatureExtractor; received "
                            f"{type(extractor).__name__}.")
        frames = 2 * self.config.max_source_positions
        if (extractor.feature_size, extractor.nb_max_frames) != (self.config.num_mel_bins, frames):
            raise ValueError(f"The feature extractor makes {extractor.feature_size} mel bins x "
                             f"{extractor.nb_max_frames} frames; the model reads {self.config.num_mel_bins} x {frames}.")
        self.runtime_state.preprocessor = extractor

    def side_files(self) -> dict[str, str]:
        extractor = self.runtime_state.preprocessor or self.default_feature_extractor()
        return {} if extractor is None else {PREPROCESSOR_CONFIG: extractor.to_json_string()}

    def read_side_files(self, find) -> None:
        file = find(PREPROCESSOR_CONFIG)
        if file is not None:
            self.feature_extractor = WhisperFeatureExtractor.from_pretrained(file)


class TFWhisperModel(TFWhisperPreTrainedModel, Seq2SeqModelTask):
    """The bare Whisper model: the decoder's last hidden state (and cache), then the encoder's outputs; the decoder
    inputs are required.

    Example:
        >>> model(input_features=features, decoder_input_ids=ids).last_hidden_state
    """

    @unpack_inputs
    def call(self, input_features=None, decoder_input_ids=None, decoder_attention_mask=None,
             decoder_position_ids=None, head_mask=None, decoder_head_mask=None, cross_attn_head_mask=None,
             encoder_outputs=None, past_key_values=None, decoder_inputs_embeds=None, use_cache=None,
             output_attentions=None, output_hidden_states=None, return_dict=None,
             training=False) -> ModelOutput | tuple:
        return self.run_task(locals())


class TFWhisperForConditionalGeneration(TFWhisperPreTrainedModel, Seq2SeqLMTask):
    """Whisper with its LM head (`proj_out`, the decoder's token embeddings): `logits` over the vocabulary; with
    `labels`, the cross entropy over those that are not -100, and decoder inputs default to the labels shifted
    right after `decoder_start_token_id`.

    Example:
        >>> model = TFWhisperForConditionalGeneration.from_pretrained("openai/whisper-tiny")
        >>> model(input_features=features, labels=token_ids).loss
    """

    def make_lm_head(self, config) -> None:
        self.lm_head_layer = TiedLMHead(self.backbone.decoder.embed_tokens, name="lm_head_layer")

    def lm_logits(self, hidden_states):
        return self.lm_head_layer(hidden_states)

    def get_output_embeddings(self) -> TokenEmbedding:
        """The decoder's token embeddings (tied)."""
        return self.backbone.decoder.embed_tokens

    # ---- served generation ----------------------------------------------------------------------------------------
    def _served_generation(self, generation_config: GenerationConfig | None, kwargs: dict, jit_compile: bool = True,
                           batch_sizes: Sequence[int] = (1,)):
        """`(config, generate(features) -> outputs)` for the served signatures: the generation settings fixed at
        export time, one sequence per row (the decoder start token first), `pad_token_id` after its end; with
        `jit_compile`, XLA programs as `generate(jit_compile=True)` runs them (`batch_sizes` as for
        `GenerationMixin.generation_serving_functions`)."""
        config = self.served_generation_config(generation_config, **kwargs)
        max_length = 1 + (config.max_new_tokens if config.max_new_tokens is not None else config.max_length - 1)

        def decode(features, rows, seed):
            return self._generate_tensors(features, rows, seed, config, max_length)

        run = self._served_program(decode, jit_compile, batch_sizes)

        def generate(features):
            rows = tf.ones([tf.shape(features)[0], 1], tf.int32)
            seed = tf.random.uniform([], maxval=2**31 - 1, dtype=tf.int64)
            result = run(features, rows, seed)
            return {"sequences": result["sequences"], "sequence_lengths": result["sequence_lengths"]}

        return config, generate

    def generation_serving_functions(self, generation_config: GenerationConfig | None = None,
                                     jit_compile: bool = True, batch_sizes: Sequence[int] = (1,),
                                     **kwargs: Any) -> dict[str, tuple]:
        """`generate`: `input_features` (float32 `[batch, num_mel_bins, frames]`) -> `sequences` (the decoder start
        token, then the new tokens, `pad_token_id` after a row ends) and `sequence_lengths`, with the generation
        settings (the generation config's, `kwargs` overriding) fixed at export time. `jit_compile` and
        `batch_sizes` as for `GenerationMixin.generation_serving_functions`.

        Example:
            >>> export_saved_model(model, "exports/whisper", generate=True, generation_kwargs={"num_beams": 4})
        """
        config, generate = self._served_generation(generation_config, kwargs, jit_compile, batch_sizes)
        specs = {"input_features": self.input_signature["input_features"]}
        function = tf.function(lambda inputs: generate(inputs["input_features"]), input_signature=[specs])
        function.nondeterministic = bool(config.do_sample)
        features = np.asarray(self.dummy_inputs["input_features"])[:1]
        function.warmup_inputs = [{"input_features": np.repeat(features, size, axis=0)} for size in batch_sizes]
        return {"generate": (function, [specs])}

    def raw_input_serving_functions(self, **generation_kwargs: Any) -> dict[str, tuple]:
        """`generate_from_audio`: `audio` (float32 `[batch, samples]`, 16 kHz mono, any length: padded or cut to
        30 s) -> the log-mel features (`feature_extractor`, in the graph) -> `generate` with the model's
        generation config (`generation_kwargs` overriding) -> `sequences` and `sequence_lengths`."""
        jit_compile = generation_kwargs.pop("jit_compile", True)
        batch_sizes = generation_kwargs.pop("batch_sizes", (1,))
        config, generate = self._served_generation(None, generation_kwargs, jit_compile, batch_sizes)
        extractor = self.feature_extractor

        def generate_from_audio(inputs):
            return generate(extractor.log_mel(extractor.fit_length(inputs["audio"])))

        function = tf.function(generate_from_audio)
        function.nondeterministic = bool(config.do_sample)
        return {"generate_from_audio": (function, [{"audio": tf.TensorSpec([None, None], tf.float32, name="audio")}])}

    def raw_check_inputs(self) -> list[dict[str, np.ndarray]]:
        """Two waveforms the export's `generate_from_audio` is verified on: a 440 Hz tone (1 s) and a rising chirp
        (2 s), both padded to 2 s."""
        rate = self.feature_extractor.sampling_rate
        seconds = np.arange(2 * rate) / rate
        tone = np.where(seconds < 1.0, 0.5 * np.sin(2 * np.pi * 440 * seconds), 0.0)
        chirp = 0.3 * np.sin(2 * np.pi * (200 + 300 * seconds) * seconds)
        return [{"audio": np.stack([tone, chirp]).astype(np.float32)}]

    @unpack_inputs
    def call(self, input_features=None, decoder_input_ids=None, decoder_attention_mask=None,
             decoder_position_ids=None, head_mask=None, decoder_head_mask=None, cross_attn_head_mask=None,
             encoder_outputs=None, past_key_values=None, decoder_inputs_embeds=None, labels=None, use_cache=None,
             output_attentions=None, output_hidden_states=None, return_dict=None,
             training=False) -> ModelOutput | tuple:
        return self.run_task(locals())
