"""`T5Config`."""

from __future__ import annotations

from typing import Any

from tfmodels.configuration import PretrainedConfig
from tfmodels.errors import ConfigError


class T5Config(PretrainedConfig):
    """Configuration of a T5 model; the defaults are those of `t5-small`.

    `feed_forward_proj` is an activation (`"relu"`: T5 v1.0) or `"gated-<activation>"` (`"gated-gelu"`: T5 v1.1,
    mT5), read as `dense_act_fn` and `is_gated_act`. `tie_word_embeddings=True` (v1.0) projects the decoder output,
    scaled by `d_model ** -0.5`, onto the shared embeddings; `False` (v1.1) uses a separate `lm_head`.
    `hidden_size`, `num_attention_heads`, `num_hidden_layers` and `head_dim` alias `d_model`, `num_heads`,
    `num_layers` and `d_kv`.

    Example:
        >>> config = T5Config(d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4, feed_forward_proj="gated-gelu")
        >>> config.dense_act_fn, config.is_gated_act, config.num_decoder_layers
        ('gelu_new', True, 2)
    """

    model_type = "t5"
    keys_to_ignore_at_inference = ["past_key_values"]
    attribute_map = {
        "hidden_size": "d_model",
        "num_attention_heads": "num_heads",
        "num_hidden_layers": "num_layers",
        "head_dim": "d_kv",
    }

    def __init__(
        self,
        vocab_size: int = 32128,
        d_model: int = 512,
        d_kv: int = 64,
        d_ff: int = 2048,
        num_layers: int = 6,
        num_decoder_layers: int | None = None,
        num_heads: int = 8,
        relative_attention_num_buckets: int = 32,
        relative_attention_max_distance: int = 128,
        dropout_rate: float = 0.1,
        layer_norm_epsilon: float = 1e-6,
        initializer_factor: float = 1.0,
        feed_forward_proj: str = "relu",
        is_encoder_decoder: bool = True,
        use_cache: bool = True,
        pad_token_id: int = 0,
        eos_token_id: int = 1,
        classifier_dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.d_kv = d_kv
        self.d_ff = d_ff
        self.num_layers = num_layers
        self.num_decoder_layers = num_decoder_layers if num_decoder_layers is not None else num_layers
        self.num_heads = num_heads
        self.relative_attention_num_buckets = relative_attention_num_buckets
        self.relative_attention_max_distance = relative_attention_max_distance
        self.dropout_rate = dropout_rate
        self.classifier_dropout = classifier_dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_factor = initializer_factor
        self.feed_forward_proj = feed_forward_proj
        self.use_cache = use_cache
        act_info = feed_forward_proj.split("-")
        if (len(act_info) > 1 and act_info[0] != "gated") or len(act_info) > 2:
            raise ConfigError(f"feed_forward_proj must be an activation ('relu') or 'gated-<activation>' "
                              f"('gated-gelu'); received {feed_forward_proj!r}.")
        self.dense_act_fn = "gelu_new" if feed_forward_proj == "gated-gelu" else act_info[-1]
        self.is_gated_act = act_info[0] == "gated"
        kwargs.pop("dense_act_fn", None)  # derived above, as the reference does (saved configs carry them)
        kwargs.pop("is_gated_act", None)
        kwargs.setdefault("decoder_start_token_id", pad_token_id)
        super().__init__(pad_token_id=pad_token_id, eos_token_id=eos_token_id,
                         is_encoder_decoder=is_encoder_decoder, **kwargs)
