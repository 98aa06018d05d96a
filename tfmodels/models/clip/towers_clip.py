"""CLIP's towers and the layers that hold them (each named `clip`, as the reference's main layers): the text
transformer (causal attention, pooled at the end-of-text token), the vision transformer (a LayerNorm before the
stack, the class token's state normalised after it), and `CLIPMain`, both towers with their projections into the
shared space and the learned temperature."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from tfmodels.layers.attention import AttentionContext
from tfmodels.layers.core import get_initializer, head_mask_5d, shape_dim
from tfmodels.layers.embeddings import TokenEmbedding
from tfmodels.layers.encoder import self_attention_bias
from tfmodels.layers.paths import build_at
from tfmodels.layers.transformer import Collect, LayerSpec, TransformerStack, transformer_layers
from tfmodels.layers.vision import positions_for_grid
from tfmodels.modeling_outputs import TFBaseModelOutputWithPooling

# The reference's legacy pooling rule applies with this end-of-text id (the original checkpoints' configs).
LEGACY_EOS_TOKEN_ID = 2


def _layer_spec(config) -> LayerSpec:
    return LayerSpec(hidden_size=config.hidden_size, num_heads=config.num_attention_heads,
                     intermediate_size=config.intermediate_size, activation=config.hidden_act, hidden_dropout=0.0,
                     attention_dropout=config.attention_dropout, layer_norm_eps=config.layer_norm_eps,
                     initializer_range=config.initializer_range, norm_first=True)


def _stack(config, blocks: dict[str, Any]) -> TransformerStack:
    paths = [blocks["layer"].format(i=i) for i in range(config.num_hidden_layers)]
    return TransformerStack(transformer_layers(_layer_spec(config), blocks["layer_names"], paths), paths,
                            name="encoder")


def _run_stack(stack: TransformerStack, hidden_states, bias, head_mask, output_attentions, output_hidden_states,
               training) -> dict:
    return stack(hidden_states, context=AttentionContext(bias), head_masks=head_mask_5d(head_mask, len(stack.layer)),
                 collect=Collect(bool(output_attentions), bool(output_hidden_states)), training=training)


class CLIPTextEmbeddings(keras.layers.Layer):
    """Token embeddings plus learned absolute positions (no norm, no dropout)."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        init = config.initializer_range
        self.token_embedding = TokenEmbedding(config.vocab_size, config.hidden_size, init, variable_name="weight",
                                              name="token_embedding")
        self.position_embedding = TokenEmbedding(config.max_position_embeddings, config.hidden_size, init,
                                                 name="position_embedding")

    def build(self, input_shape=None):
        build_at(self.token_embedding, "token_embedding")
        build_at(self.position_embedding, "position_embedding")

    def call(self, input_ids, position_ids=None):
        embeddings = self.token_embedding(input_ids)
        if position_ids is None:
            position_ids = tf.range(shape_dim(input_ids, 1))[None]
        return embeddings + self.position_embedding(position_ids)


class CLIPTextTransformer(keras.layers.Layer):
    """The text tower: embeddings, pre-norm layers under a causal mask (and the padding mask), a final LayerNorm;
    `pooler_output` is the final state at each row's end-of-text token.

    Example:
        >>> tower(input_ids=ids, attention_mask=mask).pooler_output  # [batch, hidden]
    """

    def __init__(self, config, blocks: dict[str, Any], **kwargs):
        super().__init__(**kwargs)
        self.config, self.blocks = config, blocks
        self.embeddings = CLIPTextEmbeddings(config, name="embeddings")
        self.encoder = _stack(config, blocks)
        self.final_layer_norm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps, name="final_layer_norm")

    def build(self, input_shape=None):
        build_at(self.embeddings, "embeddings")
        build_at(self.encoder, "encoder")
        build_at(self.final_layer_norm, "final_layer_norm", (None, None, self.config.hidden_size))

    def pooled_positions(self, input_ids) -> tf.Tensor:
        """Each row's end-of-text position: its highest id under the legacy rule (`eos_token_id == 2`), else its
        first `eos_token_id`, as the reference."""
        ids = tf.cast(input_ids, tf.int32)
        if self.config.eos_token_id == LEGACY_EOS_TOKEN_ID:
            return tf.argmax(ids, axis=-1, output_type=tf.int32)
        return tf.argmax(tf.cast(tf.equal(ids, self.config.eos_token_id), tf.int32), axis=-1, output_type=tf.int32)

    def call(self, input_ids, attention_mask=None, position_ids=None, head_mask=None, output_attentions=False,
             output_hidden_states=False, training=False):
        hidden_states = self.embeddings(input_ids, position_ids=position_ids)
        bias = self_attention_bias(hidden_states, attention_mask, 0, causal=True)
        stacked = _run_stack(self.encoder, hidden_states, bias, head_mask, output_attentions, output_hidden_states,
                             training)
        last = self.final_layer_norm(stacked["last_hidden_state"])
        pooled = tf.gather(last, self.pooled_positions(input_ids), batch_dims=1)
        return TFBaseModelOutputWithPooling(last_hidden_state=last, pooler_output=pooled,
                                            hidden_states=stacked["hidden_states"], attentions=stacked["attentions"])


class CLIPVisionEmbeddings(keras.layers.Layer):
    """The class embedding (a vector), then the patches (a convolution without bias), plus learned positions (a
    table `[1 + patches, dim]`), resampled for other image sizes with `interpolate_pos_encoding`."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.grid = config.hidden_size, config.image_size // config.patch_size
        self.num_channels, self.initializer_range = config.num_channels, config.initializer_range
        self.position_embedding = TokenEmbedding(self.grid * self.grid + 1, self.dim, config.initializer_range,
                                                 name="position_embedding")
        self.patch_embedding = keras.layers.Conv2D(
            self.dim, config.patch_size, strides=config.patch_size, padding="valid", use_bias=False,
            kernel_initializer=get_initializer(config.initializer_range), name="patch_embedding")

    def build(self, input_shape=None):
        self.class_embedding = self.add_weight(name="class_embedding", shape=(self.dim,),
                                               initializer=get_initializer(self.initializer_range))
        build_at(self.position_embedding, "position_embedding")
        build_at(self.patch_embedding, "patch_embedding", (None, None, None, self.num_channels))

    def call(self, images, interpolate_pos_encoding: bool = False):
        patches = self.patch_embedding(images)
        batch = shape_dim(patches, 0)
        patches = tf.reshape(patches, [batch, -1, self.dim])
        cls = tf.broadcast_to(tf.cast(self.class_embedding, patches.dtype), [batch, 1, self.dim])
        positions = tf.cast(self.position_embedding.embeddings, patches.dtype)
        if interpolate_pos_encoding:
            patch_size = self.patch_embedding.kernel_size[0]
            positions = positions_for_grid(positions, self.grid, shape_dim(images, 1) // patch_size,
                                           shape_dim(images, 2) // patch_size)
        return tf.concat([cls, patches], axis=1) + positions[None]


class CLIPVisionTransformer(keras.layers.Layer):
    """The vision tower: embeddings, `pre_layrnorm` (the reference's spelling), pre-norm layers; `last_hidden_state`
    is the stack's output and `pooler_output` the class token's state after `post_layernorm`.

    Example:
        >>> tower(pixel_values).pooler_output  # [batch, hidden]
    """

    def __init__(self, config, blocks: dict[str, Any], **kwargs):
        super().__init__(**kwargs)
        self.config = config
        eps = config.layer_norm_eps
        self.embeddings = CLIPVisionEmbeddings(config, name="embeddings")
        self.pre_layrnorm = keras.layers.LayerNormalization(epsilon=eps, name="pre_layrnorm")
        self.encoder = _stack(config, blocks)
        self.post_layernorm = keras.layers.LayerNormalization(epsilon=eps, name="post_layernorm")

    def build(self, input_shape=None):
        hidden = (None, None, self.config.hidden_size)
        build_at(self.embeddings, "embeddings")
        build_at(self.pre_layrnorm, "pre_layrnorm", hidden)
        build_at(self.encoder, "encoder")
        build_at(self.post_layernorm, "post_layernorm", hidden)

    def call(self, pixel_values, head_mask=None, output_attentions=False, output_hidden_states=False,
             interpolate_pos_encoding=False, training=False):
        images = tf.cast(tf.transpose(pixel_values, [0, 2, 3, 1]), self.compute_dtype)  # channels last
        embeddings = self.embeddings(images, interpolate_pos_encoding=bool(interpolate_pos_encoding))
        hidden_states = self.pre_layrnorm(embeddings)
        stacked = _run_stack(self.encoder, hidden_states, None, head_mask, output_attentions, output_hidden_states,
                             training)
        last = stacked["last_hidden_state"]
        return TFBaseModelOutputWithPooling(last_hidden_state=last, pooler_output=self.post_layernorm(last[:, 0]),
                                            hidden_states=stacked["hidden_states"], attentions=stacked["attentions"])


class CLIPTextMain(keras.layers.Layer):
    """`clip/text_model`: the text tower alone (`TFCLIPTextModel`)."""

    def __init__(self, config, blocks: dict[str, Any], **kwargs):
        super().__init__(**kwargs)
        self.text_model = CLIPTextTransformer(config, blocks, name=blocks["text"])

    def build(self, input_shape=None):
        build_at(self.text_model, self.text_model.name)

    def get_input_embeddings(self) -> TokenEmbedding:
        return self.text_model.embeddings.token_embedding

    def call(self, input_ids=None, attention_mask=None, position_ids=None, output_attentions=False,
             output_hidden_states=False, training=False):
        return self.text_model(input_ids, attention_mask=attention_mask, position_ids=position_ids,
                               output_attentions=output_attentions, output_hidden_states=output_hidden_states,
                               training=training)


class CLIPVisionMain(keras.layers.Layer):
    """`clip/vision_model`: the vision tower alone (`TFCLIPVisionModel`)."""

    def __init__(self, config, blocks: dict[str, Any], **kwargs):
        super().__init__(**kwargs)
        self.vision_model = CLIPVisionTransformer(config, blocks, name=blocks["vision"])

    def build(self, input_shape=None):
        build_at(self.vision_model, self.vision_model.name)

    @property
    def embeddings(self) -> CLIPVisionEmbeddings:
        return self.vision_model.embeddings

    def call(self, pixel_values=None, output_attentions=False, output_hidden_states=False,
             interpolate_pos_encoding=False, training=False):
        return self.vision_model(pixel_values, output_attentions=output_attentions,
                                 output_hidden_states=output_hidden_states,
                                 interpolate_pos_encoding=interpolate_pos_encoding, training=training)


class CLIPMain(keras.layers.Layer):
    """`clip`: the learned temperature `logit_scale` (its log), both towers, and their projections (no bias) into
    the shared space of `projection_dim`.

    Example:
        >>> main.text_features(ids, mask)  # [batch, projection_dim], not normalised
    """

    def __init__(self, config, blocks: dict[str, Any], **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.text_model = CLIPTextTransformer(config.text_config, blocks, name=blocks["text"])
        self.vision_model = CLIPVisionTransformer(config.vision_config, blocks, name=blocks["vision"])
        init = get_initializer(config.text_config.initializer_range)
        self.visual_projection = keras.layers.Dense(config.projection_dim, use_bias=False, kernel_initializer=init,
                                                    name=blocks["visual_projection"])
        self.text_projection = keras.layers.Dense(config.projection_dim, use_bias=False, kernel_initializer=init,
                                                  name=blocks["text_projection"])

    def build(self, input_shape=None):
        self.logit_scale = self.add_weight(
            name="logit_scale", shape=(1,),
            initializer=keras.initializers.Constant(self.config.logit_scale_init_value))
        build_at(self.text_model, self.text_model.name)
        build_at(self.vision_model, self.vision_model.name)
        build_at(self.visual_projection, self.visual_projection.name, (None, self.config.vision_config.hidden_size))
        build_at(self.text_projection, self.text_projection.name, (None, self.config.text_config.hidden_size))

    @property
    def embeddings(self) -> CLIPVisionEmbeddings:
        return self.vision_model.embeddings

    def get_input_embeddings(self) -> TokenEmbedding:
        return self.text_model.embeddings.token_embedding

    def call(self, input_ids=None, pixel_values=None, attention_mask=None, position_ids=None,
             output_attentions=False, output_hidden_states=False, interpolate_pos_encoding=False, training=False):
        """Both towers: `(text_output, vision_output, text_embeds, image_embeds, logits_per_text)`, the embeddings
        normalised, the logits scaled by `exp(logit_scale)`."""
        flags = {"output_attentions": output_attentions, "output_hidden_states": output_hidden_states,
                 "training": training}
        text = self.text_model(input_ids, attention_mask=attention_mask, position_ids=position_ids, **flags)
        vision = self.vision_model(pixel_values, interpolate_pos_encoding=interpolate_pos_encoding, **flags)
        text_embeds = _normalized(self.text_projection(text["pooler_output"]))
        image_embeds = _normalized(self.visual_projection(vision["pooler_output"]))
        scale = tf.exp(tf.cast(self.logit_scale, tf.float32))
        logits_per_text = tf.matmul(tf.cast(text_embeds, tf.float32), tf.cast(image_embeds, tf.float32),
                                    transpose_b=True) * scale
        return text, vision, text_embeds, image_embeds, logits_per_text


def _normalized(embeds: tf.Tensor) -> tf.Tensor:
    """Divided by the L2 norm of the last axis (as the reference: no epsilon)."""
    return embeds / tf.norm(embeds, axis=-1, keepdims=True)
