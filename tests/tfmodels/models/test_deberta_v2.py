"""DeBERTa-v2: the relative-position buckets against the reference's own function at DeBERTa-v3's sizes, the
configurations the fixtures do not cover (no relative attention; absolute positions with token types) against
transformers' PyTorch models, and the configurations refused."""

import numpy as np
import pytest
import torch
import transformers
from transformers.models.deberta_v2 import modeling_deberta_v2 as reference

import tfmodels
from tfmodels.models.deberta_v2.encoder_deberta_v2 import relative_positions

TINY = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


@pytest.mark.parametrize(("length", "buckets", "max_position"), [(600, 256, 512), (70, 8, 64), (12, -1, -1)])
def test_relative_positions_are_the_reference_buckets(length, buckets, max_position):
    """deberta-v3-base's settings (256 buckets over 512 positions) on 600 tokens, the fixtures', and none."""
    query = torch.zeros(1, length, 4)
    expected = reference.build_relative_position(query, query, bucket_size=buckets, max_position=max_position)
    np.testing.assert_array_equal(relative_positions(length, length, buckets, max_position), expected[0].numpy())


@pytest.mark.parametrize("settings", [
    dict(relative_attention=False, position_biased_input=True, type_vocab_size=2),
    dict(relative_attention=True, position_biased_input=True, type_vocab_size=2, pos_att_type="c2p|p2c",
         max_relative_positions=16, share_att_key=False),
    dict(relative_attention=True, position_biased_input=False, pos_att_type=["c2p"], position_buckets=16,
         share_att_key=True, norm_rel_ebd="layer_norm"),
], ids=["absolute", "relative-unshared-keys", "c2p-only"])
def test_other_configurations_match_pytorch(settings, tmp_path):
    """Saved here, loaded by transformers: equal states on 40 tokens (past the buckets' linear range), padding
    included, and token types where the config has them."""
    config = tfmodels.DebertaV2Config(**TINY, **settings)
    model = tfmodels.TFDebertaV2Model(config)
    rng = np.random.default_rng(0)
    for weight in model.weights:  # away from the initialisation (LayerNorm ones, zero biases)
        weight.assign(weight.numpy() + rng.normal(0, 0.05, weight.shape).astype(np.float32))
    model.save_pretrained(tmp_path, safe_serialization=True)
    pt_model, info = transformers.DebertaV2Model.from_pretrained(tmp_path, output_loading_info=True)
    assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys"))
    ids = rng.integers(1, 99, (2, 40)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[1, 30:] = 0
    types = (np.arange(40) >= 20).astype(np.int32)[None].repeat(2, 0)
    inputs = {"input_ids": ids, "attention_mask": mask}
    if config.type_vocab_size:
        inputs["token_type_ids"] = types
    with torch.no_grad():
        expected = pt_model.eval()(**{k: torch.tensor(v).long() for k, v in inputs.items()}).last_hidden_state
    np.testing.assert_allclose(model(inputs).last_hidden_state, expected.numpy(), atol=1e-5, rtol=0)


@pytest.mark.parametrize(("settings", "message"), [
    (dict(embedding_size=16), r"embedding_size \(16\) != hidden_size \(32\)"),
    (dict(conv_kernel_size=3), "convolution layer"),
])
def test_unsupported_configurations_are_refused(settings, message):
    with pytest.raises(tfmodels.ConfigError, match=message):
        tfmodels.TFDebertaV2Model(tfmodels.DebertaV2Config(**TINY, **settings))
