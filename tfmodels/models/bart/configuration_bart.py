"""`BartConfig`."""

from __future__ import annotations

from typing import Any

from tfmodels.configuration import PretrainedConfig


class BartConfig(PretrainedConfig):
    """Configuration of a BART model; the defaults are those of `facebook/bart-large`.

    `hidden_size`, `num_attention_heads` and `num_hidden_layers` read and write `d_model`,
    `encoder_attention_heads` and `encoder_layers`; `config.json` also lists `num_hidden_layers`, as the
    reference's files do.

    Example:
        >>> config = BartConfig(d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        ...                     decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64)
        >>> config.hidden_size, config.decoder_start_token_id
        (32, 2)
    """

    model_type = "bart"
    keys_to_ignore_at_inference = ["past_key_values"]
    attribute_map = {
        "num_attention_heads": "encoder_attention_heads",
        "hidden_size": "d_model",
        "num_hidden_layers": "encoder_layers",
    }

    def __init__(
        self,
        vocab_size: int = 50265,
        max_position_embeddings: int = 1024,
        encoder_layers: int = 12,
        encoder_ffn_dim: int = 4096,
        encoder_attention_heads: int = 16,
        decoder_layers: int = 12,
        decoder_ffn_dim: int = 4096,
        decoder_attention_heads: int = 16,
        encoder_layerdrop: float = 0.0,
        decoder_layerdrop: float = 0.0,
        activation_function: str = "gelu",
        d_model: int = 1024,
        dropout: float = 0.1,
        attention_dropout: float = 0.0,
        activation_dropout: float = 0.0,
        init_std: float = 0.02,
        classifier_dropout: float = 0.0,
        scale_embedding: bool = False,
        use_cache: bool = True,
        num_labels: int | None = None,
        pad_token_id: int = 1,
        bos_token_id: int = 0,
        eos_token_id: int = 2,
        is_encoder_decoder: bool = True,
        decoder_start_token_id: int = 2,
        forced_eos_token_id: int | None = 2,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.max_position_embeddings = max_position_embeddings
        self.d_model = d_model
        self.encoder_ffn_dim = encoder_ffn_dim
        self.encoder_layers = encoder_layers
        self.encoder_attention_heads = encoder_attention_heads
        self.decoder_ffn_dim = decoder_ffn_dim
        self.decoder_layers = decoder_layers
        self.decoder_attention_heads = decoder_attention_heads
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.activation_dropout = activation_dropout
        self.activation_function = activation_function
        self.init_std = init_std
        self.encoder_layerdrop = encoder_layerdrop
        self.decoder_layerdrop = decoder_layerdrop
        self.classifier_dropout = classifier_dropout
        self.use_cache = use_cache
        self.scale_embedding = scale_embedding
        if num_labels is None and kwargs.get("id2label") is None:
            num_labels = 3  # the reference's default for BART (MNLI's three classes)
        # Last, so that aliased keyword arguments (`hidden_size` for `d_model`) win over the defaults above.
        super().__init__(num_labels=num_labels, pad_token_id=pad_token_id, bos_token_id=bos_token_id,
                         eos_token_id=eos_token_id, is_encoder_decoder=is_encoder_decoder,
                         decoder_start_token_id=decoder_start_token_id, forced_eos_token_id=forced_eos_token_id,
                         **kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "num_hidden_layers": self.encoder_layers}
