"""Vision blocks: patch embeddings with a class token and learned positions (interpolated for other image sizes),
and `VisionEncoderBackbone`, ViT's pre-norm encoder on them.

Images come in the reference's layout, `pixel_values` `[batch, channels, height, width]`; the patch convolution runs
on `[batch, height, width, channels]` (TensorFlow's CPU convolutions), and its kernel is permuted to PyTorch's
`[out, in, height, width]` by the checkpoint rules.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from tfmodels.layers.attention import AttentionContext
from tfmodels.layers.core import get_activation, get_initializer, head_mask_5d, shape_dim
from tfmodels.layers.paths import build_at, leaf
from tfmodels.layers.transformer import Collect, LayerNames, LayerSpec, TransformerStack, transformer_layers
from tfmodels.modeling_outputs import TFBaseModelOutputWithPooling

# PyTorch's bicubic kernel (`torch.nn.functional.interpolate(mode="bicubic")`), which the reference's positions
# are interpolated with; TensorFlow's `tf.image.resize` uses -0.5 and would give other positions.
BICUBIC_A = -0.75


def bicubic_matrix(in_size, out_size) -> tf.Tensor:
    """`[out_size, in_size]` weights resampling an axis as PyTorch's bicubic interpolation does
    (`align_corners=False`, source indices clamped at the borders); sizes may be tensors.

    Example:
        >>> resized = bicubic_matrix(14, 20) @ column  # a column of 14 values at 20 positions
    """
    a = BICUBIC_A
    scale = tf.cast(in_size, tf.float32) / tf.cast(out_size, tf.float32)
    source = scale * (tf.range(out_size, dtype=tf.float32) + 0.5) - 0.5
    start = tf.floor(source)
    t = source - start

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    weights = tf.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=1)  # [out, 4]
    indices = tf.clip_by_value(tf.cast(start, tf.int32)[:, None] + tf.constant([-1, 0, 1, 2]), 0, in_size - 1)
    return tf.reduce_sum(tf.one_hot(indices, in_size) * weights[..., None], axis=1)


def interpolate_grid(grid: tf.Tensor, height, width) -> tf.Tensor:
    """A `[rows, columns, dim]` grid of position embeddings resampled to `[height, width, dim]` (bicubic, as the
    reference's `interpolate_pos_encoding`)."""
    rows = bicubic_matrix(shape_dim(grid, 0), height)
    columns = bicubic_matrix(shape_dim(grid, 1), width)
    resized = tf.einsum("hr,rcd,wc->hwd", rows, tf.cast(grid, tf.float32), columns)
    return tf.cast(resized, grid.dtype)


def positions_for_grid(table: tf.Tensor, grid: int, rows, columns) -> tf.Tensor:
    """A learned position table `[1 + grid * grid, dim]` (the class token's row first) for an image of `rows x
    columns` patches: the table itself when the grid is the table's, else its patch rows resampled (`interpolate_grid`).
    """
    if isinstance(rows, int) and isinstance(columns, int) and rows == columns == grid:
        return table
    dim = table.shape[-1]
    patches = tf.reshape(interpolate_grid(tf.reshape(table[1:], [grid, grid, dim]), rows, columns), [-1, dim])
    return tf.concat([table[:1], patches], axis=0)


@dataclasses.dataclass(frozen=True)
class VisionEncoderLayout:
    """Where a vision encoder's blocks sit, relative to the backbone (ViT's `WeightTable.blocks`): the embeddings
    (class token, positions and the patch projection under them), the stack and its layers (`layer` formatted with
    `i`), the final norm and the pooler."""

    layer_names: LayerNames
    embeddings: str = "embeddings"
    patch_projection: str = "patch_embeddings/projection"
    stack: str = "encoder"
    layer: str = "layer_._{i}"
    final_norm: str = "layernorm"
    pooler: str | None = "pooler/dense"


class PatchEmbeddings(keras.layers.Layer):
    """Non-overlapping square patches projected to `dim` by a convolution of stride `patch_size`: `[batch, height,
    width, channels]` -> `[batch, patches, dim]`, patches in row-major order.

    Example:
        >>> PatchEmbeddings(16, 3, 768, name="patch_embeddings")(images).shape  # 224 x 224 images
        TensorShape([1, 196, 768])
    """

    def __init__(self, patch_size: int, num_channels: int, dim: int, initializer_range: float = 0.02,
                 projection: str = "projection", use_bias: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.patch_size, self.num_channels, self.dim, self.projection_path = patch_size, num_channels, dim, projection
        self.projection = keras.layers.Conv2D(dim, patch_size, strides=patch_size, padding="valid", use_bias=use_bias,
                                              kernel_initializer=get_initializer(initializer_range),
                                              name=leaf(projection))

    def build(self, input_shape=None):
        build_at(self.projection, self.projection_path, (None, None, None, self.num_channels))

    def call(self, images: tf.Tensor) -> tf.Tensor:
        patches = self.projection(images)
        return tf.reshape(patches, [shape_dim(patches, 0), -1, self.dim])


class ViTEmbeddings(keras.layers.Layer):
    """The class token, then the patches, plus learned positions (`cls_token` `[1, 1, dim]`, `position_embeddings`
    `[1, 1 + patches, dim]`), dropped out. With `interpolate_pos_encoding` the patch positions are resampled to the
    image's grid, so that other image sizes than the config's work (fine-tuning at higher resolution).

    Example:
        >>> embeddings(pixel_values_nhwc, interpolate_pos_encoding=True)  # [batch, 1 + patches, dim]
    """

    def __init__(self, image_size: int, patch_size: int, num_channels: int, dim: int, dropout: float = 0.0,
                 initializer_range: float = 0.02, patch_projection: str = "patch_embeddings/projection", **kwargs):
        super().__init__(**kwargs)
        self.grid = image_size // patch_size
        self.dim, self.initializer_range = dim, initializer_range
        self.patch_path = patch_projection.rsplit("/", 1)[0]
        self.patch_embeddings = PatchEmbeddings(patch_size, num_channels, dim, initializer_range,
                                                projection=leaf(patch_projection), name=leaf(self.patch_path))
        self.dropout = keras.layers.Dropout(dropout, name="dropout")

    def build(self, input_shape=None):
        init = get_initializer(self.initializer_range)
        self.cls_token = self.add_weight(name="cls_token", shape=(1, 1, self.dim), initializer=init)
        self.position_embeddings = self.add_weight(name="position_embeddings",
                                                   shape=(1, self.grid * self.grid + 1, self.dim), initializer=init)
        build_at(self.patch_embeddings, self.patch_path)

    def call(self, images: tf.Tensor, interpolate_pos_encoding: bool = False, training=False) -> tf.Tensor:
        patches = self.patch_embeddings(images)
        batch = shape_dim(patches, 0)
        cls = tf.broadcast_to(tf.cast(self.cls_token, patches.dtype), [batch, 1, self.dim])
        embeddings = tf.concat([cls, patches], axis=1)
        patch_size = self.patch_embeddings.patch_size
        positions = tf.cast(self.position_embeddings, patches.dtype)
        if interpolate_pos_encoding:
            positions = positions_for_grid(positions[0], self.grid, shape_dim(images, 1) // patch_size,
                                           shape_dim(images, 2) // patch_size)[None]
        return self.dropout(embeddings + positions, training=training)


class VisionEncoderBackbone(keras.layers.Layer):
    """ViT's backbone: patch embeddings, pre-norm transformer layers (no attention mask: every patch sees every
    patch), a final LayerNorm and an optional pooler (`pooler_act` of a dense layer on the class token).

    Example:
        >>> backbone = VisionEncoderBackbone(layout, spec, num_layers=12, image_size=224, patch_size=16,
        ...                                  num_channels=3, name="vit")
        >>> backbone(pixel_values)["last_hidden_state"]  # [batch, 197, 768]
    """

    def __init__(self, layout: VisionEncoderLayout, layer_spec: LayerSpec, num_layers: int, image_size: int,
                 patch_size: int, num_channels: int, add_pooling_layer: bool = True, pooler_size: int | None = None,
                 pooler_activation: str = "tanh", **kwargs):
        super().__init__(**kwargs)
        self.layout, self.layer_spec = layout, layer_spec
        self.image_size, self.num_channels = image_size, num_channels
        hidden, init = layer_spec.hidden_size, layer_spec.initializer_range
        self.embeddings = ViTEmbeddings(image_size, patch_size, num_channels, hidden, layer_spec.hidden_dropout,
                                        init, layout.patch_projection, name=leaf(layout.embeddings))
        paths = [layout.layer.format(i=i) for i in range(num_layers)]
        self.encoder = TransformerStack(transformer_layers(layer_spec, layout.layer_names, paths), paths,
                                        name=leaf(layout.stack))
        self.layernorm = keras.layers.LayerNormalization(epsilon=layer_spec.layer_norm_eps,
                                                         name=leaf(layout.final_norm))
        self.pooler = None
        if add_pooling_layer and layout.pooler is not None:
            self.pooler = keras.layers.Dense(pooler_size or hidden, activation=get_activation(pooler_activation),
                                             kernel_initializer=get_initializer(init), name=leaf(layout.pooler))

    def build(self, input_shape=None):
        layout, hidden = self.layout, self.layer_spec.hidden_size
        build_at(self.embeddings, layout.embeddings)
        build_at(self.encoder, layout.stack)
        build_at(self.layernorm, layout.final_norm, (None, None, hidden))
        if self.pooler is not None:
            build_at(self.pooler, layout.pooler, (None, hidden))

    @property
    def stack(self) -> TransformerStack:
        """The transformer layers (`encoder`)."""
        return self.encoder

    def call(self, pixel_values, head_mask=None, output_attentions=False, output_hidden_states=False,
             interpolate_pos_encoding=False, training=False):
        images = tf.transpose(pixel_values, [0, 2, 3, 1])  # [batch, height, width, channels]
        hidden_states = self.embeddings(tf.cast(images, self.compute_dtype),
                                        interpolate_pos_encoding=bool(interpolate_pos_encoding), training=training)
        stacked = self.encoder(hidden_states, context=AttentionContext(),
                               head_masks=head_mask_5d(head_mask, len(self.encoder.layer)),
                               collect=Collect(bool(output_attentions), bool(output_hidden_states)), training=training)
        sequence_output = self.layernorm(stacked["last_hidden_state"])
        return TFBaseModelOutputWithPooling(
            last_hidden_state=sequence_output,
            pooler_output=self.pooler(sequence_output[:, 0]) if self.pooler is not None else None,
            hidden_states=stacked["hidden_states"], attentions=stacked["attentions"],
        )
