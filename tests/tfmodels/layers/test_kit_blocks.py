"""The kit's attention, norm and feed-forward options against plain NumPy versions of the same math."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.layers.attention import (
    AttentionContext,
    AttentionNames,
    CrossAttention,
    CrossInputs,
    KVCache,
    SelfAttention,
    apply_rotary,
    merge_heads,
    scaled_dot_product_attention,
    write_to_cache,
)
from tfmodels.layers.core import (
    Conv1D,
    Linear,
    shape_dim,
    transpose_kernels,
    transposable_layers,
    use_transposed_kernels,
)
from tfmodels.layers.normalization import RMSNorm
from tfmodels.layers.transformer import LayerNames, LayerSpec, TransformerLayer

LLAMA_NAMES = AttentionNames("q_proj", "k_proj", "v_proj", "o_proj")
LLAMA_LAYER = LayerNames("self_attn", LLAMA_NAMES, "input_layernorm", "mlp/up_proj", "mlp/down_proj",
                         "post_attention_layernorm", ffn_gate="mlp/gate_proj",
                         order=("attention", "ffn", "attention_norm", "ffn_norm", "cross_attention",
                                "cross_attention_norm"))


def numpy_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_grouped_query_attention_equals_repeated_keys_and_values():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(2, 6, 5, 4)).astype(np.float32)
    k, v = (rng.normal(size=(2, 2, 7, 4)).astype(np.float32) for _ in range(2))
    bias = rng.normal(size=(2, 1, 5, 7)).astype(np.float32)
    context, probs = scaled_dot_product_attention(tf.constant(q), tf.constant(k), tf.constant(v), tf.constant(bias))
    k_rep, v_rep = np.repeat(k, 3, axis=1), np.repeat(v, 3, axis=1)  # head i reads key/value head i // 3
    expected_probs = numpy_softmax(q @ k_rep.transpose(0, 1, 3, 2) / 2.0 + bias)
    np.testing.assert_allclose(probs.numpy(), expected_probs, atol=1e-6)
    np.testing.assert_allclose(context.numpy(), expected_probs @ v_rep, atol=1e-5)


@pytest.mark.parametrize(("scale", "factor"), [(False, 1.0), (0.25, 0.25), (True, 0.5)])
def test_attention_scale_options(scale, factor):
    rng = np.random.default_rng(1)
    q, k, v = (rng.normal(size=(1, 2, 3, 4)).astype(np.float32) for _ in range(3))
    _, probs = scaled_dot_product_attention(tf.constant(q), tf.constant(k), tf.constant(v), scale=scale)
    np.testing.assert_allclose(probs.numpy(), numpy_softmax(q @ k.transpose(0, 1, 3, 2) * factor), atol=1e-6)


def test_apply_rotary_is_rotate_half():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 2, 3, 4)).astype(np.float32)
    angle = rng.normal(size=(1, 3, 4)).astype(np.float32)
    out = apply_rotary(tf.constant(x), tf.cos(angle), tf.sin(angle)).numpy()
    rotated = np.concatenate([-x[..., 2:], x[..., :2]], axis=-1)
    np.testing.assert_allclose(out, x * np.cos(angle)[:, None] + rotated * np.sin(angle)[:, None], atol=1e-6)


def test_rms_norm_math_dtype_and_variable_name():
    norm = RMSNorm(1e-6, name="norm")
    x = np.random.default_rng(3).normal(size=(2, 3, 8)).astype(np.float32)
    out = norm(tf.constant(x)).numpy()
    np.testing.assert_allclose(out, x / np.sqrt((x ** 2).mean(-1, keepdims=True) + 1e-6), atol=1e-6)
    assert [w.path for w in norm.weights] == ["norm/weight"]
    half = RMSNorm(1e-6, dtype="mixed_bfloat16", name="half")  # statistics in float32, output in the compute dtype
    out = half(tf.constant(x, tf.bfloat16))
    assert out.dtype == tf.bfloat16 and half.weight.dtype == "float32"
    np.testing.assert_allclose(tf.cast(out, tf.float32).numpy(), norm(tf.constant(x)).numpy(), atol=3e-2)


def test_llama_style_layer_gqa_no_bias_gated_ffn_and_variable_order():
    spec = LayerSpec(hidden_size=16, num_heads=4, intermediate_size=24, activation="silu", hidden_dropout=0.0,
                     attention_dropout=0.0, layer_norm_eps=1e-6, norm_first=True, norm="rms", ffn="gated",
                     ffn_bias=False, num_kv_heads=2, attention_bias=False, attention_output_bias=False)
    layer = TransformerLayer(spec, LLAMA_LAYER, name="layers.0")
    x = np.random.default_rng(4).normal(size=(2, 5, 16)).astype(np.float32)
    out, *_ = layer(tf.constant(x))
    assert [w.path.split("/", 1)[1] for w in layer.weights] == [
        "self_attn/q_proj/kernel", "self_attn/k_proj/kernel", "self_attn/v_proj/kernel", "self_attn/o_proj/kernel",
        "mlp/gate_proj/kernel", "mlp/up_proj/kernel", "mlp/down_proj/kernel",
        "input_layernorm/weight", "post_attention_layernorm/weight"]
    assert layer.attention.key.kernel.shape == (16, 8)

    def rms(h):
        return h / np.sqrt((h ** 2).mean(-1, keepdims=True) + 1e-6)

    w = {v.path.split("/", 1)[1]: keras.ops.convert_to_numpy(v) for v in layer.weights}
    h = rms(x)
    q = (h @ w["self_attn/q_proj/kernel"]).reshape(2, 5, 4, 4).transpose(0, 2, 1, 3)
    k = np.repeat((h @ w["self_attn/k_proj/kernel"]).reshape(2, 5, 2, 4).transpose(0, 2, 1, 3), 2, axis=1)
    v = np.repeat((h @ w["self_attn/v_proj/kernel"]).reshape(2, 5, 2, 4).transpose(0, 2, 1, 3), 2, axis=1)
    context = (numpy_softmax(q @ k.transpose(0, 1, 3, 2) / 2.0) @ v).transpose(0, 2, 1, 3).reshape(2, 5, 16)
    x = x + context @ w["self_attn/o_proj/kernel"]
    h = rms(x)
    gate = h @ w["mlp/gate_proj/kernel"]
    x = x + ((gate / (1 + np.exp(-gate))) * (h @ w["mlp/up_proj/kernel"])) @ w["mlp/down_proj/kernel"]
    np.testing.assert_allclose(out.numpy(), x, atol=1e-5)


def test_projected_cross_key_value_equals_projecting_the_encoder_states():
    attention = CrossAttention(8, 2, AttentionNames(), name="cross")
    rng = np.random.default_rng(5)
    hidden, encoder = (tf.constant(rng.normal(size=(2, n, 8)).astype(np.float32)) for n in (3, 4))
    mask = tf.constant([[0.0, 0.0, -10000.0, 0.0], [0.0, 0.0, 0.0, -10000.0]])[:, None, None, :]
    direct, probs = attention(hidden, CrossInputs(states=encoder, bias=mask))
    cached, _ = attention(hidden, CrossInputs(key_value=attention.project_key_value(encoder), bias=mask))
    np.testing.assert_allclose(cached.numpy(), direct.numpy(), atol=1e-6)
    assert probs.shape == (2, 2, 3, 4) and float(tf.reduce_max(probs[0, :, :, 2])) < 1e-4  # the bias applies


def test_layer_spec_errors_name_what_is_wrong():
    spec = LayerSpec(hidden_size=8, num_heads=2, intermediate_size=8, ffn="gated")
    with pytest.raises(ConfigError, match="ffn_gate"):
        TransformerLayer(spec, LayerNames("a", AttentionNames(), "n1", "i", "o", "n2"))
    with pytest.raises(ConfigError, match="num_key_value_heads"):
        SelfAttention(8, 4, AttentionNames(), num_kv_heads=3)
    with pytest.raises(ConfigError, match="order"):
        TransformerLayer(LayerSpec(hidden_size=8, num_heads=2, intermediate_size=8),
                         LayerNames("a", AttentionNames(), "n1", "i", "o", "n2", order=("attention",)))


def test_pruning_a_projection_without_bias():
    attention = SelfAttention(8, 4, AttentionNames(), qkv_bias=False, output_bias=False, name="attention")
    attention(tf.zeros([1, 2, 8]))
    assert attention.prune([1, 3]) == [1, 3]
    assert attention.query.kernel.shape == (8, 4) and attention.output_projection.kernel.shape == (4, 8)
    assert attention(tf.zeros([1, 2, 8]))[0].shape == (1, 2, 8)


def test_transposed_kernels_give_the_same_projections_and_only_inside_their_context():
    rng = np.random.default_rng(3)
    conv, linear = Conv1D(6, 4, name="c_fc"), Linear(6, activation="relu", name="fc")
    conv.build()
    linear.build((None, None, 4))
    for layer in (conv, linear):
        layer.projection_kernel.assign(rng.normal(size=(4, 6)).astype(np.float32))
    conv.bias.assign(rng.normal(size=(1, 6)).astype(np.float32))
    linear.bias.assign(rng.normal(size=(6,)).astype(np.float32))
    x = tf.constant(rng.normal(size=(2, 3, 4)).astype(np.float32))
    expected_conv = x.numpy() @ conv.weight.numpy() + conv.bias.numpy()
    expected_linear = np.maximum(x.numpy() @ linear.kernel.numpy() + linear.bias.numpy(), 0)
    kernels = transpose_kernels([conv, linear])
    assert [layer for layer, _ in kernels] == [conv, linear]
    np.testing.assert_array_equal(kernels[0][1].numpy(), conv.weight.numpy().T)
    with use_transposed_kernels(kernels):
        conv.weight.assign(tf.zeros_like(conv.weight))  # the copies are used inside, not the variables
        linear.kernel.assign(tf.zeros_like(linear.kernel))
        np.testing.assert_allclose(conv(x).numpy(), expected_conv, atol=1e-5)
        np.testing.assert_allclose(linear(x).numpy(), expected_linear, atol=1e-5)
        np.testing.assert_allclose(linear(x[0]).numpy(), expected_linear[0], atol=1e-5)  # rank 2
    assert conv.transposed_kernel is None and linear.transposed_kernel is None  # as before the block
    np.testing.assert_allclose(conv(x).numpy(), np.broadcast_to(conv.bias.numpy(), (2, 3, 6)), atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("rank", [2, 3, 4])
def test_linear_equals_keras_dense_at_every_rank_and_dtype(dtype, rank):
    """`Linear` computes its product itself (see `_project`); it equals Keras' `Dense` with the same weights."""
    rng = np.random.default_rng(rank)
    shape = (2, 3, 5, 8)[4 - rank:]
    x = tf.constant(rng.normal(size=shape), dtype)
    linear, dense = Linear(6, activation="tanh", dtype=dtype), keras.layers.Dense(6, activation="tanh", dtype=dtype)
    for layer in (linear, dense):
        layer.build((None, 8))
    linear.set_weights([rng.normal(size=(8, 6)), rng.normal(size=(6,))])
    dense.set_weights(linear.get_weights())
    ours = tf.function(linear)(x)
    assert ours.shape == (*shape[:-1], 6) and ours.dtype == dtype
    np.testing.assert_allclose(tf.cast(ours, tf.float32).numpy(), tf.cast(dense(x), tf.float32).numpy(),
                               atol=1e-6 if dtype == "float32" else 2e-2)


@pytest.mark.parametrize("dtype, fused", [("float32", False), ("bfloat16", True)])
def test_half_precision_projections_add_the_bias_to_the_two_dimensional_product(dtype, fused):
    """In bf16 the bias is added to the 2-D product, where TensorFlow's oneDNN remapper fuses the two; in float32
    after the reshape (its fused float32 kernel is slower than the plain product)."""
    linear = Linear(6, dtype=dtype)
    linear.build((None, None, 8))
    graph = tf.function(linear).get_concrete_function(tf.TensorSpec([2, 3, 8], dtype)).graph
    by_name = {op.name: op for op in graph.get_operations()}
    adds = [op for op in graph.get_operations() if op.type in ("BiasAdd", "AddV2")]
    assert len(adds) == 1
    producer = by_name[adds[0].inputs[0].op.name]
    assert producer.type == ("MatMul" if fused else "Reshape")


def test_exact_gelu_is_pytorchs_erf_form():
    import torch

    from tfmodels.layers.core import get_activation

    x = np.linspace(-8, 8, 4001).astype(np.float32)
    expected = torch.nn.functional.gelu(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(get_activation("gelu")(tf.constant(x)).numpy(), expected, rtol=1e-6, atol=1e-6)
    halves = get_activation("gelu")(tf.constant(x, tf.bfloat16))
    assert halves.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(halves, tf.float32).numpy(), expected, rtol=2e-2, atol=2e-2)


def test_transposable_layers_leave_out_lora_projections():
    import tfmodels

    model = tfmodels.TFLlamaForCausalLM(tfmodels.LlamaConfig(
        vocab_size=50, hidden_size=16, intermediate_size=24, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2))
    model.build_in_name_scope()
    names = sorted(layer.path.split("/", 1)[1] for layer in transposable_layers(model))
    assert len(names) == 2 * 7 + 1 and "lm_head" in names
    model.enable_lora(2, target_modules=["q_proj", "v_proj"])
    remaining = sorted(layer.path.split("/", 1)[1] for layer in transposable_layers(model))
    assert remaining == [n for n in names if not n.endswith(("q_proj", "v_proj"))]


def test_shape_dim_is_a_python_int_when_the_shape_knows_it_and_a_tensor_otherwise():
    assert shape_dim(tf.zeros([2, 3]), 1) == 3 and type(shape_dim(tf.zeros([2, 3]), -1)) is int
    seen = {}

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def sizes(x):
        seen["rows"], seen["columns"] = shape_dim(x, 0), shape_dim(x, 1)
        return seen["rows"]

    assert int(sizes(tf.zeros([4, 3]))) == 4
    assert tf.is_tensor(seen["rows"]) and seen["columns"] == 3


def test_linear_layers_quantize_as_keras_dense_does():
    layer = Linear(6, name="fc")
    layer.build((None, 4))
    x = tf.constant(np.random.default_rng(4).normal(size=(3, 4)).astype(np.float32))
    before = layer(x).numpy()
    layer.quantize("int8")
    assert layer.quantization_mode == "int8"
    np.testing.assert_allclose(layer(x).numpy(), before, atol=0.05)


def test_cached_length_of_stacked_and_pair_caches():
    from tfmodels.layers.encoder import cached_length

    key = tf.zeros([1, 2, 7, 4])
    assert cached_length([tf.stack([key, key])], None) == 7
    assert cached_length([(key, key)], None) == 7
    assert cached_length(None, None) == 0 and int(cached_length([(key, key)], tf.constant(3))) == 3


@pytest.mark.parametrize("heads, seq", [(4, 1), (3, 1), (1, 1), (4, 5)])
def test_merge_heads_in_eager_graph_and_xla(heads, seq):
    # One query of several heads takes the concatenating path (a real buffer for XLA's next product).
    x = np.random.default_rng(0).normal(size=(2, heads, seq, 3)).astype(np.float32)
    expected = x.transpose(0, 2, 1, 3).reshape(2, seq, heads * 3)
    np.testing.assert_array_equal(merge_heads(tf.constant(x)).numpy(), expected)
    spec = tf.TensorSpec([None, heads, seq, 3], tf.float32)  # unknown batch: the last axis stays static
    graph = tf.function(merge_heads, input_signature=[spec]).get_concrete_function()
    assert graph.structured_outputs.shape.as_list() == [None, seq, heads * 3]
    np.testing.assert_array_equal(graph(tf.constant(x)).numpy(), expected)
    np.testing.assert_array_equal(tf.function(merge_heads, jit_compile=True)(tf.constant(x)).numpy(), expected)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("mode", ["eager", "graph", "xla"])
def test_write_to_cache_writes_the_new_positions_only(dtype, mode):
    rng = np.random.default_rng(0)
    cache = rng.normal(size=(2, 1, 3, 8, 4)).astype(np.float32)
    new = rng.normal(size=(2, 1, 3, 2, 4)).astype(np.float32)
    write = write_to_cache if mode == "eager" else tf.function(write_to_cache, jit_compile=mode == "xla")
    out = write(tf.constant(cache, "float32"), tf.constant(new, dtype), tf.constant(5))
    assert out.dtype == dtype and out.shape == cache.shape  # the cache takes the new entries' dtype
    expected = cache.copy()
    expected[:, :, :, 5:7] = new
    np.testing.assert_array_equal(out.numpy().astype(np.float32),
                                  tf.cast(tf.cast(expected, dtype), "float32").numpy())


def test_a_preallocated_cache_is_written_at_its_position_and_equals_the_concatenated_one():
    attention = SelfAttention(8, 2, AttentionNames(), name="self")
    rng = np.random.default_rng(6)
    past, new = (tf.constant(rng.normal(size=(2, n, 8)).astype(np.float32)) for n in (3, 1))
    _, concatenated_past, _ = attention(past, cache=KVCache(keep=True))  # [2, batch, heads, 3, dim]
    grown, expected, _ = attention(new, cache=KVCache(concatenated_past, keep=True))
    slots = tf.pad(concatenated_past, [[0, 0]] * 3 + [[0, 2], [0, 0]])  # room for 5 positions
    bias = tf.reshape(tf.constant([0.0] * 4 + [-10000.0]), [1, 1, 1, 5])  # the unwritten last slot is masked
    written, present, _ = attention(new, AttentionContext(bias), cache=KVCache(slots, tf.constant(3), keep=True))
    np.testing.assert_allclose(written.numpy(), grown.numpy(), atol=1e-6)
    np.testing.assert_array_equal(present[:, :, :, :4].numpy(), expected.numpy())
    np.testing.assert_array_equal(present[:, :, :, 4].numpy(), np.zeros((2, 2, 2, 4), np.float32))
    assert attention(new, AttentionContext(bias), cache=KVCache(slots, tf.constant(3)))[1] is None  # not kept
