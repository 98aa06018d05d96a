"""`CLIPTextConfig`, `CLIPVisionConfig` and `CLIPConfig` (the two towers' configs and the projection)."""

from __future__ import annotations

from typing import Any

from tfmodels.configuration import PretrainedConfig


class CLIPTextConfig(PretrainedConfig):
    """CLIP's text tower; the defaults are those of `openai/clip-vit-base-patch32`.

    The pooled text is the final state at the end-of-text token: with `eos_token_id == 2` (the original checkpoints'
    configs) at each row's highest id, as the reference's legacy rule; otherwise at the first `eos_token_id`.

    Example:
        >>> config = CLIPTextConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=2)
    """

    model_type = "clip_text_model"

    def __init__(self, vocab_size: int = 49408, hidden_size: int = 512, intermediate_size: int = 2048,
                 projection_dim: int = 512, num_hidden_layers: int = 12, num_attention_heads: int = 8,
                 max_position_embeddings: int = 77, hidden_act: str = "quick_gelu", layer_norm_eps: float = 1e-5,
                 attention_dropout: float = 0.0, initializer_range: float = 0.02, initializer_factor: float = 1.0,
                 pad_token_id: int = 1, bos_token_id: int = 49406, eos_token_id: int = 49407, **kwargs: Any) -> None:
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.projection_dim = projection_dim
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.max_position_embeddings = max_position_embeddings
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.attention_dropout = attention_dropout
        self.initializer_range = initializer_range
        self.initializer_factor = initializer_factor
        super().__init__(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)


class CLIPVisionConfig(PretrainedConfig):
    """CLIP's vision tower (a ViT with a LayerNorm before the stack); the defaults are `openai/clip-vit-base-patch32`'s.

    Example:
        >>> config = CLIPVisionConfig(image_size=32, patch_size=8, hidden_size=64, num_hidden_layers=2)
    """

    model_type = "clip_vision_model"

    def __init__(self, hidden_size: int = 768, intermediate_size: int = 3072, projection_dim: int = 512,
                 num_hidden_layers: int = 12, num_attention_heads: int = 12, num_channels: int = 3,
                 image_size: int = 224, patch_size: int = 32, hidden_act: str = "quick_gelu",
                 layer_norm_eps: float = 1e-5, attention_dropout: float = 0.0, initializer_range: float = 0.02,
                 initializer_factor: float = 1.0, **kwargs: Any) -> None:
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.projection_dim = projection_dim
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_channels = num_channels
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.attention_dropout = attention_dropout
        self.initializer_range = initializer_range
        self.initializer_factor = initializer_factor
        super().__init__(**kwargs)


class CLIPConfig(PretrainedConfig):
    """CLIP: `text_config` and `vision_config` (dicts or configs) and the shared embedding space they project to
    (`projection_dim`), with a learned temperature initialised at `logit_scale_init_value`.

    Example:
        >>> config = CLIPConfig(text_config={"vocab_size": 1000, "hidden_size": 64}, vision_config={"image_size": 64},
        ...                     projection_dim=32)
        >>> config.vision_config.image_size
        64
    """

    model_type = "clip"
    sub_configs = {"text_config": CLIPTextConfig, "vision_config": CLIPVisionConfig}

    def __init__(self, text_config: dict | CLIPTextConfig | None = None,
                 vision_config: dict | CLIPVisionConfig | None = None, projection_dim: int = 512,
                 logit_scale_init_value: float = 2.6592, initializer_factor: float = 1.0, **kwargs: Any) -> None:
        self.text_config = _sub_config(CLIPTextConfig, text_config)
        self.vision_config = _sub_config(CLIPVisionConfig, vision_config)
        self.projection_dim = projection_dim
        self.logit_scale_init_value = logit_scale_init_value
        self.initializer_factor = initializer_factor
        super().__init__(**kwargs)


def _sub_config(config_class: type[PretrainedConfig], value) -> PretrainedConfig:
    if value is None:
        return config_class()
    if isinstance(value, config_class):
        return value
    if isinstance(value, dict):
        return config_class(**{key: item for key, item in value.items() if key != "model_type"})
    raise TypeError(f"{config_class.__name__[:-6].lower()} config must be a dict or a {config_class.__name__}; "
                    f"received {type(value).__name__}.")
