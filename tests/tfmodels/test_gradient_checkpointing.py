"""Gradient checkpointing: each transformer layer's activations are recomputed in the backward pass, and the
gradients, the dropout masks and `fit` are those of the model without it."""

from __future__ import annotations

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tfmodels.keras_private import sublayers
from tests.tfmodels.models.model_checks import ARCHITECTURES, exported_classes, tiny_batch, tiny_model
from tfmodels.layers.decoder_layer import DecoderLayer, SandwichDecoderLayer
from tfmodels.layers.moe import MoEDecoderLayer
from tfmodels.layers.transformer import TransformerLayer
from tfmodels.models.deberta_v2.encoder_deberta_v2 import DebertaV2Layer

# Post-norm (BERT), pre-norm with GPT-2's grouped stack, Llama's rotary/gated/RMS layers, Gemma 2's sandwich layers
# of two kinds (sliding window, full attention), Mixtral's experts (the router logits' loss flows through them).
CLASSES = ["TFBertForSequenceClassification", "TFGPT2LMHeadModel", "TFLlamaForCausalLM", "TFGemma2ForCausalLM",
           "TFMixtralForCausalLM"]


def loss_and_gradients(model, batch: dict, compiled: bool) -> tuple[float, list[np.ndarray]]:
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model(batch, training=True)["loss"])
        return loss, tape.gradient(loss, model.trainable_weights)

    loss, gradients = tf.function(step)() if compiled else step()
    return float(loss), [np.asarray(tf.convert_to_tensor(g)) for g in gradients]


def layer_calls(monkeypatch) -> list:
    """Records every layer's call (`TransformerLayer`, `DecoderLayer` and its subclasses, DeBERTa-v2's own layer; at
    trace time inside a `tf.function`)."""
    calls = []

    def watch(layer_class):
        original = layer_class.call

        @functools.wraps(original)  # Keras reads the signature of `call`
        def spy(self, *args, **kwargs):
            calls.append(self.name)
            return original(self, *args, **kwargs)

        monkeypatch.setattr(layer_class, "call", spy)

    for layer_class in (TransformerLayer, DecoderLayer, SandwichDecoderLayer, MoEDecoderLayer, DebertaV2Layer):
        watch(layer_class)
    return calls


@pytest.mark.parametrize("class_name", CLASSES)
def test_gradients_equal_those_without_checkpointing_and_layers_run_twice(class_name, monkeypatch):
    model = tiny_model(class_name)
    inputs, labels = tiny_batch(model)
    batch = {**inputs, **labels}
    calls = layer_calls(monkeypatch)
    expected_loss, expected = loss_and_gradients(model, batch, compiled=True)
    applications = len(calls)
    calls.clear()

    model.gradient_checkpointing_enable()
    assert model.is_gradient_checkpointing
    loss, gradients = loss_and_gradients(model, batch, compiled=True)

    assert len(calls) == 2 * applications  # the forward pass, then the recomputation in the backward pass
    assert loss == pytest.approx(expected_loss, abs=1e-6)
    for got, want, variable in zip(gradients, expected, model.trainable_weights):
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=1e-5, err_msg=variable.path)


ENCODER_DECODERS = {  # cross-attention on the encoder's states (BART); a learned relative position bias (T5)
    "TFBartForConditionalGeneration": ("BartConfig", dict(
        vocab_size=64, d_model=16, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=20, decoder_ffn_dim=20, max_position_embeddings=32, dropout=0.0,
        attention_dropout=0.0)),
    "TFT5ForConditionalGeneration": ("T5Config", dict(vocab_size=64, d_model=16, d_kv=4, d_ff=20, num_layers=2,
                                                      num_heads=2, dropout_rate=0.0)),
}


@pytest.mark.parametrize("class_name", sorted(ENCODER_DECODERS))
def test_gradients_reach_the_encoder_and_position_bias_through_checkpointed_layers(class_name, monkeypatch):
    config_class, config = ENCODER_DECODERS[class_name]
    keras.utils.set_random_seed(0)
    model = getattr(tfmodels, class_name)(getattr(tfmodels, config_class)(**config))
    ids = np.arange(1, 17, dtype=np.int32).reshape(2, 8)
    calls = layer_calls(monkeypatch)
    expected_loss, expected = loss_and_gradients(model, {"input_ids": ids, "labels": ids}, compiled=True)
    assert len(calls) == 4  # 2 encoder and 2 decoder layers
    calls.clear()
    model.gradient_checkpointing_enable()
    loss, gradients = loss_and_gradients(model, {"input_ids": ids, "labels": ids}, compiled=True)
    assert len(calls) == 8  # each layer again in the backward pass: checkpointing ran in both stacks
    assert loss == pytest.approx(expected_loss, abs=1e-6)
    for got, want, variable in zip(gradients, expected, model.trainable_weights):
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=1e-5, err_msg=variable.path)


def test_dropout_draws_the_same_masks_when_recomputed():
    keras.utils.set_random_seed(0)
    model = tfmodels.TFBertForSequenceClassification(tfmodels.BertConfig(
        vocab_size=64, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=20,
        hidden_dropout_prob=0.3, attention_probs_dropout_prob=0.3, num_labels=2))
    batch = {"input_ids": np.arange(24, dtype=np.int32).reshape(3, 8) + 1, "labels": np.array([0, 1, 1])}
    seeds = [layer.seed_generator.state for layer in sublayers(model) if hasattr(layer, "seed_generator")]
    start = [np.asarray(state.value) for state in seeds]
    expected_loss, expected = loss_and_gradients(model, batch, compiled=False)
    for state, value in zip(seeds, start):
        state.assign(value)
    model.gradient_checkpointing_enable()

    for compiled in (False, True):
        loss, gradients = loss_and_gradients(model, batch, compiled=compiled)
        for state, value in zip(seeds, start):
            state.assign(value)
        assert loss == pytest.approx(expected_loss, abs=1e-6)
        for got, want in zip(gradients, expected):
            np.testing.assert_allclose(got, want, atol=1e-6, rtol=1e-5)


def test_fit_takes_the_gradient_steps_of_the_model_without_checkpointing(monkeypatch):
    model = tiny_model("TFLlamaForCausalLM", seed=3)
    inputs, labels = tiny_batch(model)
    before = [np.asarray(v.value) for v in model.trainable_weights]
    _, gradients = loss_and_gradients(model, {**inputs, **labels}, compiled=False)
    model.gradient_checkpointing_enable()
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    calls = layer_calls(monkeypatch)
    model.fit(inputs, labels, batch_size=len(inputs["input_ids"]), epochs=1, verbose=0)
    assert len(calls) == 2 * model.config.num_hidden_layers  # traced once: the forward pass and the recomputation
    for variable, start, gradient in zip(model.trainable_weights, before, gradients):
        np.testing.assert_allclose(np.asarray(variable.value), start - 0.5 * gradient, atol=1e-5, rtol=0,
                                   err_msg=variable.path)
    model.gradient_checkpointing_disable()
    assert not model.is_gradient_checkpointing


def test_every_architecture_recomputes_its_layers_in_the_backward_pass(monkeypatch):
    calls = layer_calls(monkeypatch)
    for model_type, entry in ARCHITECTURES.items():
        class_name = next(name for name in entry.classes if name in exported_classes())
        model = tiny_model(class_name)
        inputs, _ = tiny_batch(model)
        model.gradient_checkpointing_enable()
        assert model.is_gradient_checkpointing, model_type
        calls.clear()
        with tf.GradientTape() as tape:
            outputs = model(inputs, training=True)
            first = next(value for value in outputs.values() if value is not None and value.dtype.is_floating)
            loss = tf.reduce_sum(first)
        forward = len(calls)
        tape.gradient(loss, model.trainable_weights)
        assert forward > 0 and len(calls) == 2 * forward, (model_type, forward, len(calls))


class TFNoStack(tfmodels.TFPreTrainedModel):
    """A model built without the kit's TransformerStack."""

    config_class = tfmodels.BertConfig

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self.dense = keras.layers.Dense(2)

    def call(self, inputs):
        return self.dense(inputs)


def test_a_model_without_transformer_stack_is_not_checkpointing_and_cannot_enable_it():
    model = TFNoStack(tfmodels.BertConfig())
    assert model.is_gradient_checkpointing is False
    model.gradient_checkpointing_disable()  # nothing to disable
    with pytest.raises(NotImplementedError, match="TFNoStack has no TransformerStack; gradient checkpointing works "
                                                  "on the architectures built from the kit"):
        model.gradient_checkpointing_enable()
