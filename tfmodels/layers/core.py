"""Small shared layers and helpers: initializers, activations, projections (`Conv1D`, `make_linear`), masks."""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Callable

import keras
import tensorflow as tf

from tfmodels.errors import ConfigError

_SKIP_RANDOM_INIT = contextvars.ContextVar("skip_random_init", default=False)


def shape_dim(x: tf.Tensor, axis: int) -> int | tf.Tensor:
    """`x`'s size along `axis`: a Python int when the static shape knows it (no graph op to trace or compile),
    else a scalar tensor.

    Example:
        >>> shape_dim(tf.zeros([2, 3]), 1)
        3
    """
    static = x.shape[axis]
    return static if static is not None else tf.shape(x)[axis]


def get_initializer(initializer_range: float = 0.02) -> keras.initializers.Initializer:
    """Truncated normal initializer with `stddev=initializer_range`, as the reference uses everywhere.

    Inside `skip_random_init()` it returns zeros instead: `from_pretrained` overwrites the values anyway and
    initialises only the weights the checkpoint lacks (see `initialize_like_fresh`).
    """
    if _SKIP_RANDOM_INIT.get():
        return keras.initializers.Zeros()
    return keras.initializers.TruncatedNormal(stddev=initializer_range)


@contextlib.contextmanager
def skip_random_init():
    """Create variables without drawing random values (most of a 110M-parameter model's construction time)."""
    token = _SKIP_RANDOM_INIT.set(True)
    try:
        yield
    finally:
        _SKIP_RANDOM_INIT.reset(token)


def initialize_like_fresh(variable, initializer_range: float) -> None:
    """Give `variable` the value a freshly built model would draw: random matrices, ones for LayerNorm and RMSNorm
    scales, zeros for biases."""
    last = variable.path.rsplit("/", 1)[-1]
    if last in ("kernel", "weight", "embeddings") and len(variable.shape) > 1:
        initializer = keras.initializers.TruncatedNormal(stddev=initializer_range)
    elif last in ("gamma", "weight"):  # a rank-1 `weight` is an RMSNorm scale
        initializer = keras.initializers.Ones()
    else:
        initializer = keras.initializers.Zeros()
    variable.assign(initializer(tuple(variable.shape), dtype=variable.dtype))


def _gelu_tanh(x: tf.Tensor) -> tf.Tensor:
    x = tf.convert_to_tensor(x)
    coeff = tf.cast(math.sqrt(2.0 / math.pi), x.dtype)
    return 0.5 * x * (1.0 + tf.tanh(coeff * (x + tf.cast(0.044715, x.dtype) * tf.pow(x, 3))))


def _gelu(x: tf.Tensor) -> tf.Tensor:
    """Exact GELU as PyTorch computes it, `x / 2 * (1 + erf(x / sqrt(2)))`. (`tf.nn.gelu` uses `erfc`, which
    TensorFlow evaluates element by element in bfloat16: 4x slower, 12 of a bf16 BERT-base's 120 ms.)"""
    x = tf.convert_to_tensor(x)
    return 0.5 * x * (1.0 + tf.math.erf(x * tf.cast(math.sqrt(0.5), x.dtype)))


_ACTIVATIONS: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {
    "gelu": _gelu,
    "gelu_new": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "gelu_fast": _gelu_tanh,
    "relu": tf.nn.relu,
    "silu": tf.nn.silu,
    "swish": tf.nn.silu,
    "quick_gelu": lambda x: x * tf.sigmoid(tf.cast(1.702, x.dtype) * x),  # CLIP's
    "tanh": tf.tanh,
    "sigmoid": tf.sigmoid,
    "linear": tf.identity,
}


def get_activation(name: str) -> Callable[[tf.Tensor], tf.Tensor]:
    """Activation by its HF config name (`gelu` is exact, `gelu_new` the tanh approximation)."""
    if name not in _ACTIVATIONS:
        raise ConfigError(f"Unknown activation {name!r}; supported: {sorted(_ACTIVATIONS)}.")
    return _ACTIVATIONS[name]


class Conv1D(keras.layers.Layer):
    """GPT-2's linear layer: `weight` of shape `[nx, nf]` and `bias` of shape `[1, nf]` (the reference's layout).

    Example:
        >>> proj = Conv1D(nf=96, nx=32, name="c_attn")
    """

    def __init__(self, nf: int, nx: int, initializer_range: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        self.nf = nf
        self.nx = nx
        self.initializer_range = initializer_range
        self.transposed_kernel = None  # set while `use_transposed_kernels` is active

    def build(self, input_shape=None):
        self.weight = self.add_weight(
            name="weight", shape=(self.nx, self.nf), initializer=get_initializer(self.initializer_range)
        )
        self.bias = self.add_weight(name="bias", shape=(1, self.nf), initializer="zeros")

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return _project(x, self.weight, self.transposed_kernel, tf.reshape(self.bias, [-1]))

    @property
    def projection_kernel(self):
        """The `[in, out]` matrix this layer multiplies by (see `transpose_kernels`)."""
        return self.weight


class Linear(keras.layers.Dense):
    """Keras' `Dense` (same weights, names and options) that can multiply by a pre-transposed kernel (see
    `transpose_kernels`; compiled decoding does).

    Example:
        >>> proj = Linear(64, use_bias=False, name="q_proj")
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.transposed_kernel = None  # set while `use_transposed_kernels` is active

    def quantize(self, mode=None, type_check=True, config=None):
        """Keras' `Dense.quantize` (which refuses subclasses unless told not to check the type)."""
        super().quantize(mode, type_check=False, config=config)

    def call(self, inputs, training=None):
        """Dense's product; computed by `_project`, which adds the bias to the 2-D product (quantized layers
        take Keras' own `quantized_call` instead)."""
        transposed = self.transposed_kernel
        return _project(inputs, self.kernel if transposed is None else None, transposed, self.bias, self.activation)

    @property
    def projection_kernel(self):
        """The `[in, out]` matrix this layer multiplies by (see `transpose_kernels`)."""
        return self.kernel


def _project(x: tf.Tensor, kernel, transposed: tf.Tensor | None, bias=None,
             activation: Callable[[tf.Tensor], tf.Tensor] | None = None) -> tf.Tensor:
    """`activation(x @ kernel + bias)` over the last axis, as one 2-D matmul (about twice as fast on CPU as a
    broadcast batch matmul); with `transposed` (`[out, in]`), `x @ transposed^T`.

    In half precision the bias is added to the 2-D product, before it is reshaped back, so that TensorFlow fuses
    the two into one oneDNN bf16 matmul (a bf16 BERT-base, batch 1 x 128, answers in 0.8x the time on an AVX512-BF16
    CPU). In float32 it is added after the reshape: fused, oneDNN takes its inner-product kernel, 6% slower there
    than the sgemm the plain product gets."""
    if transposed is not None:
        (units, inputs), matrix, transpose_b = transposed.shape, transposed, True
    else:
        (inputs, units), matrix, transpose_b = kernel.shape, kernel, False
    flat = tf.matmul(x if x.shape.rank == 2 else tf.reshape(x, [-1, inputs]), matrix, transpose_b=transpose_b)
    fuse_bias = flat.dtype in (tf.bfloat16, tf.float16)
    if bias is not None and fuse_bias:
        flat = tf.nn.bias_add(flat, tf.cast(bias, flat.dtype))
    if x.shape.rank == 3:
        out = tf.reshape(flat, [shape_dim(x, 0), shape_dim(x, 1), units])
    elif x.shape.rank != 2:
        out = tf.reshape(flat, tf.concat([tf.shape(x)[:-1], [units]], 0))
    else:
        out = flat
    if bias is not None and not fuse_bias:
        out = out + tf.cast(bias, out.dtype)
    return activation(out) if activation is not None else out


def transposable_layers(model: keras.layers.Layer) -> list[keras.layers.Layer]:
    """The projections of `model` that `transpose_kernels` can serve: `Conv1D` and `Linear` layers (without LoRA
    adapters or quantization, whose products Keras computes itself)."""
    from tfmodels.keras_private import sublayers

    return [layer for layer in sublayers(model)
            if isinstance(layer, (Conv1D, Linear)) and not getattr(layer, "lora_enabled", False)
            and getattr(layer, "quantization_mode", None) is None]


def transpose_kernels(layers: list[keras.layers.Layer]) -> list[tuple[keras.layers.Layer, tf.Tensor]]:
    """The kernels of `layers` (see `transposable_layers`) transposed to `[out, in]`, in each layer's compute
    dtype, for `use_transposed_kernels`.

    XLA's matrix-vector product (one row decoding one token a step) streams the `[out, in]` layout faster on CPU
    (each output is one contiguous dot product): GPT-2 124M decodes 44-47 new tokens/s instead of 39-43 in fp32,
    and 69 instead of 12 in bf16. Compiled generation of one row transposes once per call, outside its loop, and
    every step reuses them; they are a second copy of those weights while the call runs.

    Example:
        >>> kernels = transpose_kernels(transposable_layers(model))
        >>> with use_transposed_kernels(kernels):
        ...     logits = model(input_ids).logits
    """
    return [(layer, tf.transpose(tf.cast(layer.projection_kernel, layer.compute_dtype))) for layer in layers]


@contextlib.contextmanager
def use_transposed_kernels(kernels: list[tuple[keras.layers.Layer, tf.Tensor]]):
    """Inside, each layer of `kernels` (from `transpose_kernels`) multiplies by its transposed kernel (its
    `transposed_kernel` attribute) instead of its variable; on exit the layers are as before. Compiled decoding
    enters it while tracing, so the tensors live in the traced graph only."""
    previous = [(layer, layer.transposed_kernel) for layer, _ in kernels]
    try:
        for layer, transposed in kernels:
            layer.transposed_kernel = transposed
        yield
    finally:
        for layer, transposed in previous:
            layer.transposed_kernel = transposed


def padding_bias(attention_mask: tf.Tensor | None, dtype: tf.DType) -> tf.Tensor | None:
    """`[batch, seq]` mask of 1/0 -> additive bias `[batch, 1, 1, seq]` of 0 / -10000 (the reference's value)."""
    if attention_mask is None:
        return None
    mask = tf.cast(attention_mask, dtype)
    return (1.0 - mask[:, None, None, :]) * tf.cast(-10000.0, dtype)


def head_mask_5d(head_mask, num_hidden_layers: int) -> list:
    """Per-layer head masks: None, `[heads]` or `[layers, heads]` -> one `[1, heads, 1, 1]` mask per layer."""
    if head_mask is None:
        return [None] * num_hidden_layers
    head_mask = tf.cast(tf.convert_to_tensor(head_mask), tf.float32)
    if head_mask.shape.rank == 1:
        head_mask = tf.tile(head_mask[None, None, :, None, None], [num_hidden_layers, 1, 1, 1, 1])
    elif head_mask.shape.rank == 2:
        head_mask = head_mask[:, None, :, None, None]
    else:
        raise ValueError(f"head_mask must have rank 1 [heads] or 2 [layers, heads]; got shape {head_mask.shape}.")
    if head_mask.shape[0] != num_hidden_layers:
        raise ValueError(f"head_mask covers {head_mask.shape[0]} layers; the model has {num_hidden_layers}.")
    return [head_mask[i] for i in range(num_hidden_layers)]


def make_linear(kind: str, units: int, input_dim: int, name: str, initializer_range: float = 0.02,
                use_bias: bool = True) -> keras.layers.Layer:
    """A projection in an architecture's own layout: `dense` (`Linear`, a Keras Dense: `kernel` `[in, out]`,
    `bias` unless `use_bias=False`) or `conv1d` (GPT-2's `Conv1D`: `weight` `[in, out]`, `bias` `[1, out]`)."""
    if kind == "conv1d":
        if not use_bias:
            raise ConfigError("GPT-2's Conv1D projection always has a bias; use linear='dense' for use_bias=False.")
        return Conv1D(units, input_dim, initializer_range, name=name)
    if kind != "dense":
        raise ConfigError(f"Unknown projection kind {kind!r}; expected 'dense' or 'conv1d'.")
    return Linear(units, use_bias=use_bias, kernel_initializer=get_initializer(initializer_range), name=name)
