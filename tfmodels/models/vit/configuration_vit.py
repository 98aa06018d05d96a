"""`ViTConfig`."""

from __future__ import annotations

from typing import Any

from tfmodels.configuration import PretrainedConfig


class ViTConfig(PretrainedConfig):
    """Configuration of a ViT model; the defaults are those of `google/vit-base-patch16-224`.

    Images are `num_channels x image_size x image_size`, cut into square patches of `patch_size` pixels, each
    projected to `hidden_size`; a class token and learned positions precede the patches.

    Example:
        >>> config = ViTConfig(image_size=32, patch_size=8, hidden_size=64, num_hidden_layers=2,
        ...                    num_attention_heads=2, intermediate_size=128, num_labels=10)
    """

    model_type = "vit"

    def __init__(
        self,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.0,
        attention_probs_dropout_prob: float = 0.0,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        image_size: int = 224,
        patch_size: int = 16,
        num_channels: int = 3,
        qkv_bias: bool = True,
        encoder_stride: int = 16,
        pooler_output_size: int | None = None,
        pooler_act: str = "tanh",
        **kwargs: Any,
    ) -> None:
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.image_size = image_size
        self.patch_size = patch_size
        self.num_channels = num_channels
        self.qkv_bias = qkv_bias
        self.encoder_stride = encoder_stride
        self.pooler_output_size = pooler_output_size if pooler_output_size else hidden_size
        self.pooler_act = pooler_act
        super().__init__(**kwargs)
