"""TFPreTrainedModel features: outputs, Keras-native saving, embeddings, resizing, pruning, caching."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.helpers import Case, outputs_equal, run
from tfmodels.modeling_outputs import TFSequenceClassifierOutput


def test_model_output_is_an_ordered_dict_without_nones():
    out = TFSequenceClassifierOutput(logits=tf.ones((2, 3)), loss=tf.zeros((2,)), attentions=None)
    assert list(out.keys()) == ["loss", "logits"]
    assert out.logits is out["logits"] is out[1]
    assert out.hidden_states is None
    assert out.to_tuple() == (out["loss"], out["logits"])
    assert keras.tree.flatten(out) == [out["loss"], out["logits"]]
    doubled = tf.nest.map_structure(lambda x: x + 1, out)
    assert isinstance(doubled, TFSequenceClassifierOutput) and float(doubled.logits[0, 0]) == 2.0
    with pytest.raises(TypeError, match="no field"):
        TFSequenceClassifierOutput(logit=1)


def test_return_dict_false_gives_tuple_and_inputs_in_any_form():
    case = Case("bert_seqcls")
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    as_dict = model(case.inputs)
    as_tuple = model(case.inputs, return_dict=False)
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 1
    np.testing.assert_array_equal(as_tuple[0], as_dict.logits)
    keywords = model(**case.inputs)
    int64 = model({k: v.astype(np.int64) for k, v in case.inputs.items()})
    listed = model([case.inputs["input_ids"], case.inputs["attention_mask"], case.inputs["token_type_ids"]])
    for other in (keywords, int64, listed):
        np.testing.assert_array_equal(other.logits, as_dict.logits)
    with pytest.raises(ValueError, match=r"\['idx'\].*prepare_tf_dataset"):
        model({**case.inputs, "idx": np.zeros(3)})
    with_all = model(case.inputs, output_hidden_states=True, output_attentions=True)
    assert list(with_all.keys()) == ["logits", "hidden_states", "attentions"]
    assert len(with_all.hidden_states) == 3 and with_all.attentions[0].shape == (3, 4, 11, 11)


def test_works_inside_tf_function():
    case = Case("gpt2_lm")
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    traced = tf.function(lambda x: model(x, use_cache=False))
    np.testing.assert_allclose(traced(case.inputs).logits, model(case.inputs).logits, atol=1e-6)


def test_keras_native_save_and_load(tmp_path):
    case = Case("bert_seqcls")
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    outputs_equal(run(model, case), run(loaded, case))
    weights = os.path.join(tmp_path, "w.weights.h5")
    model.save_weights(weights)
    fresh = case.model_class(model.config)
    fresh.load_weights(weights)
    outputs_equal(run(model, case), run(fresh, case))
    assert tfmodels.TFBertForSequenceClassification.from_config(model.get_config()).config == model.config


def test_model_introspection():
    case = Case("bert_mlm")
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    expected = sum(int(np.prod(v.shape)) for v in {id(w): w for w in model.weights}.values())
    assert model.num_parameters() == expected == model.num_parameters(only_trainable=True)
    assert model.get_input_embeddings() is model.bert.embeddings.word_embeddings
    assert model.get_output_embeddings() is model.get_input_embeddings()
    assert model.get_lm_head() is model.mlm  # the head under `mlm___cls` (HF: `model.mlm`)
    assert set(model.get_bias()) == {"bias"}
    assert model.input_signature["input_ids"].shape.as_list() == [None, None]
    assert sorted(model.dummy_inputs) == ["attention_mask", "input_ids", "token_type_ids"]
    assert model(model.dummy_inputs).logits.shape == (1, 2, 99)
    assert not model.can_generate() and tfmodels.TFGPT2LMHeadModel.can_generate()
    gpt2 = Case("gpt2_lm").model_class.from_pretrained(Case("gpt2_lm").path("tf_h5"))
    assert sorted(gpt2.input_signature) == ["attention_mask", "input_ids"]
    assert gpt2.get_output_embeddings() is gpt2.transformer.wte
    mc = tfmodels.TFBertForMultipleChoice(tfmodels.BertConfig.from_pretrained(case.path("tf_h5")))
    assert mc.input_signature["input_ids"].shape.as_list() == [None, None, None]
    with pytest.warns(FutureWarning):
        assert model.get_output_layer_with_bias() is model.mlm
    masks = model.get_head_mask(np.ones(4), 2)
    assert len(masks) == 2 and masks[0].shape == (1, 4, 1, 1)
    assert model.get_head_mask(None, 2) == [None, None]


def test_register_for_auto_class(tmp_path):
    class Custom(tfmodels.TFBertForSequenceClassification):
        pass

    Custom.register_for_auto_class("TFAutoModelForSequenceClassification")
    assert Custom._auto_class == "TFAutoModelForSequenceClassification"
    with pytest.raises(ValueError, match="not a valid auto class"):
        Custom.register_for_auto_class("TFAutoModelForTeleportation")


@pytest.mark.parametrize("case_name", ["bert_mlm", "gpt2_lm"])
def test_resize_token_embeddings(case_name, tmp_path):
    case = Case(case_name)
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    old = model.get_input_embeddings().embeddings.numpy().copy()
    old_bias = model.get_bias()["bias"].numpy().copy() if model.get_bias() else None
    names = [w.path for w in model.weights]
    model.resize_token_embeddings(120)
    assert model.config.vocab_size == 120
    new = model.get_input_embeddings().embeddings.numpy()
    assert new.shape == (120, 32)
    np.testing.assert_array_equal(new[:99], old)
    assert [w.path for w in model.weights] == names
    if old_bias is not None:
        bias = model.get_bias()["bias"].numpy()
        np.testing.assert_array_equal(bias[:99], old_bias)
        np.testing.assert_array_equal(bias[99:], 0)
    assert run(model, case, with_labels=False).logits.shape[-1] == 120
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(run(model, case).loss)
    grads = tape.gradient(loss, model.trainable_weights)
    assert all(g is not None for g in grads)
    model.save_pretrained(tmp_path)
    reloaded = case.model_class.from_pretrained(tmp_path)
    assert reloaded.config.vocab_size == 120
    outputs_equal(run(model, case), run(reloaded, case))
    model.resize_token_embeddings(50)
    np.testing.assert_array_equal(model.get_input_embeddings().embeddings.numpy(), old[:50])


def test_prune_heads_removes_heads_and_reloads_pruned(tmp_path):
    case = Case("bert_seqcls")
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    head_mask = np.ones((2, 4), np.float32)
    head_mask[0, [0, 2]] = 0
    head_mask[1, 1] = 0
    masked = model(case.inputs, head_mask=head_mask).logits.numpy()
    model.prune_heads({0: [0, 2], 1: [1]})
    model.prune_heads({0: [2]})  # already pruned: nothing more happens
    attention = model.bert.encoder.layer[0].attention
    assert attention.query.kernel.shape == (32, 16)
    assert attention.output_projection.kernel.shape == (16, 32)
    assert model.bert.encoder.layer[1].attention.value.kernel.shape == (32, 24)
    assert model.config.pruned_heads == {0: [0, 2], 1: [1]}
    np.testing.assert_allclose(model(case.inputs).logits, masked, atol=1e-6)
    model.save_pretrained(tmp_path)
    reloaded, info = case.model_class.from_pretrained(tmp_path, output_loading_info=True)
    assert info["mismatched_keys"] == [] and info["missing_keys"] == []
    assert reloaded.bert.encoder.layer[0].attention.key.kernel.shape == (32, 16)
    np.testing.assert_allclose(reloaded(case.inputs).logits, masked, atol=1e-6)


def test_gpt2_cached_decoding_equals_full_sequence():
    case = Case("gpt2_lm")
    model = case.model_class.from_pretrained(case.path("pt_safetensors"))
    ids, mask = case.inputs["input_ids"], case.inputs["attention_mask"]
    full = model({"input_ids": ids, "attention_mask": mask}).logits.numpy()
    prompt = 4
    out = model({"input_ids": ids[:, :prompt], "attention_mask": mask[:, :prompt]}, use_cache=True)
    steps = [out.logits.numpy()]
    past = out.past_key_values
    assert len(past) == 2 and past[0].shape == (2, 3, 4, prompt, 8)
    for i in range(prompt, ids.shape[1]):
        out = model({"input_ids": ids[:, i:i + 1], "attention_mask": mask[:, :i + 1]}, past_key_values=past,
                    use_cache=True)
        past = out.past_key_values
        steps.append(out.logits.numpy())
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5, rtol=0)


def test_wrong_config_type_is_a_clear_error():
    with pytest.raises(TypeError, match="expects a PretrainedConfig.*from_pretrained"):
        tfmodels.TFBertModel({"hidden_size": 8})


@pytest.mark.parametrize("case_name", ["bert_base", "gpt2_base"])
def test_inputs_embeds_equal_input_ids(case_name):
    case = Case(case_name)
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    embeds = model.get_input_embeddings()(case.inputs["input_ids"])
    others = {k: v for k, v in case.inputs.items() if k != "input_ids"}
    np.testing.assert_allclose(model(inputs_embeds=embeds, **others).last_hidden_state,
                               model(case.inputs).last_hidden_state, atol=1e-6)
    with pytest.raises(ValueError, match="either input_ids or inputs_embeds"):
        model(inputs_embeds=embeds, **case.inputs)


def test_set_embeddings_and_bias():
    case = Case("bert_mlm")
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    matrix = np.random.default_rng(0).normal(size=(99, 32)).astype(np.float32)
    model.set_input_embeddings(matrix)
    np.testing.assert_array_equal(model.get_output_embeddings().embeddings.numpy(), matrix)  # tied
    model.set_output_embeddings(matrix * 2)
    np.testing.assert_array_equal(model.get_input_embeddings().embeddings.numpy(), matrix * 2)
    model.set_bias({"bias": np.ones(99, np.float32)})
    np.testing.assert_array_equal(model.get_bias()["bias"].numpy(), 1)
    with pytest.warns(FutureWarning):
        assert model.get_prefix_bias_name() is None
    with pytest.raises(ValueError, match=r"\[rows, 32\]"):
        model.set_input_embeddings(np.zeros((99, 8)))
    seqcls = Case("bert_seqcls").model_class.from_pretrained(Case("bert_seqcls").path("tf_h5"))
    assert seqcls.get_lm_head() is None and seqcls.get_bias() is None and seqcls.get_output_embeddings() is None
    with pytest.raises(NotImplementedError):
        seqcls.set_bias({"bias": np.ones(3)})


def test_auto_classes_pick_the_architecture():
    bert = Case("bert_base").path("tf_h5")
    gpt2 = Case("gpt2_base").path("tf_h5")
    expected = {
        tfmodels.TFAutoModel: ("TFBertModel", "TFGPT2Model"),
        tfmodels.TFAutoModelForPreTraining: ("TFBertForPreTraining", "TFGPT2LMHeadModel"),
        tfmodels.TFAutoModelForMaskedLM: ("TFBertForMaskedLM", None),
        tfmodels.TFAutoModelForCausalLM: ("TFBertLMHeadModel", "TFGPT2LMHeadModel"),
        tfmodels.TFAutoModelForSequenceClassification: ("TFBertForSequenceClassification",
                                                       "TFGPT2ForSequenceClassification"),
        tfmodels.TFAutoModelForTokenClassification: ("TFBertForTokenClassification", None),
        tfmodels.TFAutoModelForQuestionAnswering: ("TFBertForQuestionAnswering", None),
        tfmodels.TFAutoModelForMultipleChoice: ("TFBertForMultipleChoice", None),
    }
    for auto_class, names in expected.items():
        for path, name in zip((bert, gpt2), names):
            if name is None:
                with pytest.raises(tfmodels.ConfigError, match="has no model for model_type"):
                    auto_class.from_pretrained(path)
            else:
                assert type(auto_class.from_pretrained(path)).__name__ == name
    config = tfmodels.AutoConfig.for_model("bert", hidden_size=8, num_attention_heads=2, num_hidden_layers=1,
                                           intermediate_size=8)
    assert type(tfmodels.TFAutoModel.from_config(config)).__name__ == "TFBertModel"


def test_summary_lists_the_top_level_layers(capsys):
    case = Case("bert_seqcls")
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    model.summary()
    printed = capsys.readouterr().out
    assert "tf_bert_for_sequence_classification" in printed and "classifier" in printed
    assert f"{model.num_parameters():,}" in printed


def test_a_refused_prune_request_changes_nothing():
    case = Case("bert_seqcls")
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    before = model(case.inputs).logits.numpy()
    with pytest.raises(ValueError, match=r"Cannot prune heads \[4\] of layer 1: its heads are 0 to 3"):
        model.prune_heads({0: [1], 1: [4]})  # layer 0's request is valid, layer 1's is not: neither happens
    with pytest.raises(ValueError, match="Cannot prune heads of layer 7: the model has 2 layers"):
        model.prune_heads({7: [0]})
    assert model.config.pruned_heads == {}
    assert model.bert.encoder.layer[0].attention.num_heads == 4
    np.testing.assert_array_equal(model(case.inputs).logits, before)


def test_decoder_inputs_are_refused_where_they_would_be_ignored():
    config = tfmodels.BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=20, is_decoder=True)
    decoder = tfmodels.TFBertLMHeadModel(config)
    ids = np.arange(1, 7, dtype=np.int32).reshape(1, 6)
    with pytest.raises(ValueError, match="no cross-attention layers; build it with add_cross_attention=True"):
        decoder({"input_ids": ids, "encoder_hidden_states": np.zeros((1, 3, 16), np.float32)})
    with pytest.raises(ValueError, match="past_key_values holds 1 layer caches; the model has 2 layers"):
        decoder({"input_ids": ids, "past_key_values": decoder({"input_ids": ids}, use_cache=True)
                 .past_key_values[:1]})
    with pytest.raises(tfmodels.ConfigError, match="Cross-attention .* is for decoders: set is_decoder=True"):
        tfmodels.TFBertModel(tfmodels.BertConfig(**{**config.to_dict(), "is_decoder": False,
                                                    "add_cross_attention": True}))
    encoder_only = tfmodels.TFBertLMHeadModel(tfmodels.BertConfig(**{**config.to_dict(), "is_decoder": False}))
    with pytest.raises(ValueError, match="cannot generate with is_decoder=False"):
        encoder_only.generate(ids, max_new_tokens=2)


def test_bare_models_of_decoder_capable_architectures_take_the_decoder_inputs():
    """As the reference's TFBertModel: a decoder config runs it causally with a cache and cross-attention."""
    import inspect

    for name in ("TFBertModel", "TFRobertaModel", "TFElectraModel", "TFCamembertModel"):
        parameters = list(inspect.signature(getattr(tfmodels, name).call).parameters)
        assert parameters[7:11] == ["encoder_hidden_states", "encoder_attention_mask", "past_key_values",
                                    "use_cache"], name
    assert "past_key_values" not in inspect.signature(tfmodels.TFDistilBertModel.call).parameters
    config = tfmodels.BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=20, is_decoder=True, add_cross_attention=True)
    model = tfmodels.TFBertModel(config)
    ids = np.arange(1, 7, dtype=np.int32).reshape(1, 6)
    memory = np.random.default_rng(0).normal(size=(1, 3, 16)).astype(np.float32)
    full = model({"input_ids": ids, "encoder_hidden_states": memory}).last_hidden_state
    first = model({"input_ids": ids[:, :4], "encoder_hidden_states": memory}, use_cache=True)
    rest = model({"input_ids": ids[:, 4:], "encoder_hidden_states": memory,
                  "past_key_values": first.past_key_values}).last_hidden_state
    np.testing.assert_allclose(np.concatenate([first.last_hidden_state, rest], axis=1), full, atol=1e-5)
