"""`DebertaV2Config`."""

from __future__ import annotations

from typing import Any

from tfmodels.configuration import PretrainedConfig


class DebertaV2Config(PretrainedConfig):
    """Configuration of a DeBERTa-v2 model (DeBERTa-v3 checkpoints use it too); the defaults are those of
    `microsoft/deberta-v2-xlarge`.

    `relative_attention` turns on the disentangled attention: content-to-position (`c2p`) and position-to-content
    (`p2c`) scores over relative distances, bucketed logarithmically beyond `position_buckets / 2` (up to
    `max_relative_positions`, the position table's size when -1), with the relative embeddings normalised
    (`norm_rel_ebd="layer_norm"`) and projected by the content projections (`share_att_key`). Other fields of the
    reference's files (`position_buckets`, `share_att_key`, `norm_rel_ebd`, `embedding_size`, `cls_dropout`) are kept
    as given, as the reference keeps them.

    Example:
        >>> config = DebertaV2Config(vocab_size=128100, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
        ...                          intermediate_size=3072, relative_attention=True, position_buckets=256,
        ...                          pos_att_type=["p2c", "c2p"], norm_rel_ebd="layer_norm", share_att_key=True,
        ...                          position_biased_input=False)  # deberta-v3-base
    """

    model_type = "deberta-v2"

    def __init__(
        self,
        vocab_size: int = 128100,
        hidden_size: int = 1536,
        num_hidden_layers: int = 24,
        num_attention_heads: int = 24,
        intermediate_size: int = 6144,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.1,
        attention_probs_dropout_prob: float = 0.1,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 0,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-7,
        relative_attention: bool = False,
        max_relative_positions: int = -1,
        pad_token_id: int = 0,
        position_biased_input: bool = True,
        pos_att_type: list[str] | str | None = None,
        pooler_dropout: float = 0,
        pooler_hidden_act: str = "gelu",
        legacy: bool = True,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.relative_attention = relative_attention
        self.max_relative_positions = max_relative_positions
        self.position_biased_input = position_biased_input
        if isinstance(pos_att_type, str):  # older configs: "p2c|c2p"
            pos_att_type = [kind.strip() for kind in pos_att_type.lower().split("|")]
        self.pos_att_type = pos_att_type
        self.pooler_dropout = pooler_dropout
        self.pooler_hidden_act = pooler_hidden_act
        self.legacy = legacy
        self.pooler_hidden_size = kwargs.pop("pooler_hidden_size", hidden_size)
        super().__init__(pad_token_id=pad_token_id, **kwargs)
