"""TF Serving exports: signatures equal to the reference's, outputs equal to the Keras model's when loaded by
TensorFlow alone, warm-up records that replay, verification that removes broken exports, the command line."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from serving import ExportError, export_saved_model, next_version, write_model_config
from serving.export import copy_at_precision, verification_tolerance
from serving.verify_export import BLOCKED, compare
from tests.helpers import Case
from tests.keras_integration.tiny import tiny_model

pytestmark = pytest.mark.slow
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VERIFY = os.path.join(ROOT, "serving", "verify_export.py")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

FIXTURE_HEADS = ["bert_seqcls", "gpt2_lm"]


def _model_and_inputs(name):
    if name in FIXTURE_HEADS:
        case = Case(name)
        return case.model_class.from_pretrained(case.path("tf_h5")), case.inputs
    model = tiny_model(name)
    shape = (3, 2, 7) if "MultipleChoice" in name else (3, 7)
    ids = (np.arange(np.prod(shape)).reshape(shape) % 40 + 1).astype(np.int32)
    mask = np.ones(shape, np.int32)
    mask[1, ..., -2:] = 0
    inputs = {"input_ids": ids, "attention_mask": mask}
    if "input_ids" in inputs and "token_type_ids" in model.input_signature:
        inputs["token_type_ids"] = np.zeros(shape, np.int32)
    return model, inputs


def _load_elsewhere(export_dir, cases, tmp_path):
    """Run the export in a fresh process with keras and this project's packages unimportable."""
    path = tmp_path / "cases.npz"
    np.savez(path, **cases)
    result = subprocess.run([sys.executable, VERIFY, export_dir, str(path)], capture_output=True, text=True,
                            env=ENV, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1][len("VERIFY "):])


# Every architecture's export is verified by `export_saved_model` itself in test_every_model.py; these check the
# loaded export independently of that verification, on trained weights and on the heads with the most outputs and
# the 3-D inputs.
@pytest.mark.parametrize("name", ["bert_seqcls", "gpt2_lm", "TFBertForPreTraining", "TFBertForMultipleChoice"])
def test_export_answers_like_the_keras_model_without_keras(name, tmp_path):
    model, inputs = _model_and_inputs(name)
    path = export_saved_model(model, tmp_path / "export", verify=False)
    assert path == str(tmp_path / "export" / "1")
    other = {k: np.concatenate([v, v[:1]])[..., :5] for k, v in inputs.items()}  # another batch size and length
    cases = {}
    for index, batch in enumerate((inputs, other)):
        expected = model.serving_output(model(batch))
        assert expected and "loss" not in expected
        for signature in ("serving_default", "int64_serving"):
            dtype = np.int64 if signature == "int64_serving" else np.int32
            for key, value in batch.items():
                cases[f"case{index}/{signature}/in/{key}"] = value.astype(dtype)
            for key, value in expected.items():
                cases[f"case{index}/{signature}/out/{key}"] = np.asarray(value)
    report = _load_elsewhere(path, cases, tmp_path)
    assert report["problems"] == [] and report["checked"] == 4
    assert {"serving_default", "int64_serving"} <= set(report["signatures"])


def _signature_layout(path):
    loaded = tf.saved_model.load(path)
    layout = {}
    for name, function in loaded.signatures.items():
        inputs = {k: (v.dtype.name, v.shape.as_list()) for k, v in function.structured_input_signature[1].items()}
        outputs = {k: (v.dtype.name, v.shape.as_list()) for k, v in function.structured_outputs.items()}
        layout[name] = (inputs, outputs)
    return layout


# TensorFlow's `saved_model_cli` from this interpreter's environment, not a bare name on PATH: a virtual
# environment's python called by its path (not activated) has no `saved_model_cli` on PATH.
SAVED_MODEL_CLI = (sys.executable, "-m", "tensorflow.python.tools.saved_model_cli")


@pytest.mark.parametrize("name", ["bert_seqcls", "gpt2_lm"])
def test_signatures_equal_the_reference_exports(name, tmp_path):
    model, _ = _model_and_inputs(name)
    path = export_saved_model(model, tmp_path)
    reference = os.path.join(Case(name).root, "tf_saved_model", "saved_model", "1")
    assert _signature_layout(path) == _signature_layout(reference)
    meta = subprocess.run([*SAVED_MODEL_CLI, "show", "--dir", path, "--all"], capture_output=True, text=True,
                          env=ENV).stdout
    assert meta.count("Method name is: tensorflow/serving/predict") == 2


def test_saved_model_cli_run_gives_the_same_logits(tmp_path):
    case = Case("bert_seqcls")
    model, inputs = _model_and_inputs("bert_seqcls")
    path = export_saved_model(model, tmp_path / "export")
    np.savez(tmp_path / "inputs.npz", **inputs)
    arguments = ";".join(f"{k}={tmp_path / 'inputs.npz'}[{k}]" for k in inputs)
    result = subprocess.run([*SAVED_MODEL_CLI, "run", "--dir", path, "--tag_set", "serve", "--signature_def",
                             "serving_default", "--inputs", arguments, "--outdir", str(tmp_path / "out")],
                            capture_output=True, text=True, env=ENV)
    assert result.returncode == 0, result.stderr[-2000:]
    logits = np.load(tmp_path / "out" / "logits.npy")
    np.testing.assert_allclose(logits, model(inputs).logits, atol=1e-5)
    np.testing.assert_allclose(logits, case.reference["logits"], atol=1e-5)


def test_warmup_records_parse_and_replay(tmp_path):
    from tensorflow_serving.apis import prediction_log_pb2

    model, inputs = _model_and_inputs("bert_seqcls")
    # a mapping is a request to serving_default; a (name, mapping) pair names its signature
    warmup = [inputs, ("int64_serving", {k: v[:1, :4].astype(np.int64) for k, v in inputs.items()})]
    path = export_saved_model(model, tmp_path, version=7, warmup_inputs=warmup)
    records = list(tf.data.TFRecordDataset(os.path.join(path, "assets.extra", "tf_serving_warmup_requests")))
    assert len(records) == 2
    loaded = tf.saved_model.load(path)
    for record, (signature, sent) in zip(records, [("serving_default", warmup[0]), warmup[1]]):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        request = log.predict_log.request
        assert request.model_spec.signature_name == signature
        replayed = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        assert sorted(replayed) == sorted(sent) and all(replayed[k].dtype == sent[k].dtype for k in sent)
        outputs = loaded.signatures[signature](**{k: tf.constant(v) for k, v in replayed.items()})
        np.testing.assert_allclose(outputs["logits"], model(sent).logits, atol=1e-5)


@pytest.mark.parametrize(("warmup", "error", "message"), [
    ([("generate", {"input_ids": np.ones((1, 2), np.int32)})], ValueError, r"signatures \['generate'\] that the "
                                                                           "export does not have"),
    ([np.ones((1, 2), np.int32)], TypeError, "a list of input mappings .* of type ndarray"),
])
def test_bad_warmup_inputs_are_refused_before_anything_is_written(tmp_path, warmup, error, message):
    model, _ = _model_and_inputs("bert_seqcls")
    with pytest.raises(error, match=message):
        export_saved_model(model, tmp_path, warmup_inputs=warmup, verify=False)
    assert os.listdir(tmp_path) == []


class _BrokenServing(tfmodels.TFBertForSequenceClassification):
    def serving_output(self, output):
        return None


class _DivergentGraph(tfmodels.TFBertForSequenceClassification):
    def serving_output(self, output):  # answers differently once traced: the kind of bug verification catches
        scale = 1.0 if tf.executing_eagerly() else 2.0
        return {"logits": output["logits"] * scale}


@pytest.mark.parametrize("model_class, message", [(_BrokenServing, "failed while tracing"),
                                                  (_DivergentGraph, "logits differs by up to")])
def test_a_broken_export_fails_verification_and_leaves_nothing(model_class, message, tmp_path):
    model = model_class(tfmodels.BertConfig.from_pretrained(Case("bert_seqcls").path("tf_h5")))
    with pytest.raises(ExportError, match=message):
        export_saved_model(model, tmp_path / "export")
    assert os.listdir(tmp_path / "export") == []


def test_versions_are_never_overwritten_and_custom_signatures_are_added(tmp_path):
    model, inputs = _model_and_inputs("bert_seqcls")
    assert next_version(str(tmp_path)) == 1
    (tmp_path / "3").mkdir()
    (tmp_path / "notes").mkdir()
    assert next_version(str(tmp_path)) == 4

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="input_ids")])
    def probabilities(input_ids):
        return {"probabilities": tf.nn.softmax(model(input_ids=input_ids).logits)}

    path = export_saved_model(model, tmp_path, signatures={"probabilities": probabilities})
    assert path.endswith(os.sep + "4")
    loaded = tf.saved_model.load(path)
    assert sorted(loaded.signatures) == ["int64_serving", "probabilities", "serving_default"]
    probs = loaded.signatures["probabilities"](input_ids=tf.constant(inputs["input_ids"]))["probabilities"]
    np.testing.assert_allclose(np.sum(probs, -1), 1.0, atol=1e-6)
    with pytest.raises(FileExistsError, match="never overwritten"):
        export_saved_model(model, tmp_path, version=4)


def test_save_pretrained_with_saved_model(tmp_path):
    model, inputs = _model_and_inputs("bert_seqcls")
    model.save_pretrained(tmp_path, saved_model=True, version=2)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "saved_model", "tf_model.h5"]
    assert os.listdir(tmp_path / "saved_model") == ["2"]
    loaded = tf.saved_model.load(str(tmp_path / "saved_model" / "2"))
    np.testing.assert_allclose(loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in inputs.items()})
                               ["logits"], model(inputs).logits, atol=1e-5)


def test_serving_output_stacks_requested_hidden_states():
    case = Case("bert_base")
    model = case.model_class.from_pretrained(case.path("tf_h5"), output_hidden_states=True)
    served = model.serving(case.inputs)
    assert served["hidden_states"].shape == (3, 3, 11, 32)
    assert "attentions" not in served
    with pytest.warns(FutureWarning):
        np.testing.assert_allclose(model.eager_serving(case.inputs)["last_hidden_state"],
                                   served["last_hidden_state"])


def test_write_model_config(tmp_path):
    path = write_model_config(tmp_path / "models.config", {"bert": "exports/bert", "gpt2": str(tmp_path / "g")})
    text = open(path).read()
    assert text.startswith("model_config_list {\n  config {\n    name: \"bert\"\n")
    assert f'base_path: "{os.path.abspath("exports/bert")}"' in text and text.count("model_platform") == 2
    with pytest.raises(ValueError, match="Model name"):
        write_model_config(tmp_path / "x.config", {"bad name": "x"})


def test_command_line_export(tmp_path):
    env = {**ENV, "PYTHONPATH": ROOT}
    result = subprocess.run([sys.executable, "-m", "serving", "export", Case("gpt2_lm").path("pt_safetensors"),
                             str(tmp_path / "base")], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[0] == str(tmp_path / "base" / "1")
    assert "tensorflow_model_server" in result.stdout
    bad = subprocess.run([sys.executable, "-m", "serving", "export", str(tmp_path / "missing"), str(tmp_path / "b")],
                         capture_output=True, text=True, env=env, timeout=600)
    last = bad.stderr.strip().splitlines()[-1]  # (TensorFlow's own start-up lines come before it)
    assert bad.returncode == 1 and last.startswith("error: ") and "config.json" in last
    assert "Traceback" not in bad.stderr


def test_the_verifier_really_blocks_keras():
    assert {"keras", "tfmodels", "serving"} <= set(BLOCKED)
    assert keras.__name__ == "keras"  # (and keras is importable here, in the test process)


def test_a_mixed_precision_model_exports_verified_with_a_tolerance_for_its_dtype(tmp_path):
    assert verification_tolerance(tiny_model("TFBertForSequenceClassification")) == 1e-5
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = tiny_model("TFBertForSequenceClassification")
    finally:
        keras.config.set_dtype_policy("float32")
    assert verification_tolerance(model) == 5e-2
    path = export_saved_model(model, tmp_path / "export")  # verified: eager and traced bf16 round differently
    inputs = {"input_ids": tf.constant([[5, 6, 7, 8]], tf.int32), "attention_mask": tf.ones((1, 4), tf.int32),
              "token_type_ids": tf.zeros((1, 4), tf.int32)}
    served = tf.saved_model.load(path).signatures["serving_default"](**inputs)["logits"]
    assert served.dtype == tf.float32
    np.testing.assert_allclose(served.numpy(), model(inputs, training=False).logits.numpy(), atol=5e-2)


def test_verification_scales_its_tolerance_to_each_output_and_says_what_differs():
    logits = np.array([[12.5, -3.0, 0.0]], np.float32)
    assert compare(logits + np.float32(1.55e-5), logits, 1e-5) == ""  # float32 rounding between two graphs
    message = compare(logits + np.array([[0.0, 0.0, 2e-3]], np.float32), logits, 1e-5)
    assert message.startswith("differs by up to 0.002: at (0, 2) 0.002 instead of 0")
    assert "tolerance 0.000125 + 1e-05 x |expected|" in message
    assert compare(np.array([[5, 7]]), np.array([[5, 8]]), 1e-5) == "differs at 1 of 2 positions"  # token ids


def test_a_bfloat16_export_of_a_float32_model_leaves_the_model_unchanged(tmp_path):
    model = tfmodels.TFLlamaForCausalLM(tfmodels.LlamaConfig(
        vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2))
    before = [np.asarray(weight.value) for weight in model.weights]
    path = export_saved_model(model, tmp_path / "lm", dtype="bfloat16", generate=True,
                              generation_kwargs={"max_new_tokens": 4})  # verified, tokens included
    assert [str(weight.dtype) for weight in model.weights] == ["float32"] * len(before)
    assert all(np.array_equal(a, np.asarray(w.value)) for a, w in zip(before, model.weights))
    loaded = tf.saved_model.load(path)
    ids = tf.constant([[3, 5, 7]], tf.int32)
    tokens = loaded.signatures["generate"](input_ids=ids, attention_mask=tf.ones_like(ids))["sequences"]
    expected = copy_at_precision(model, "bfloat16").generate(ids, max_new_tokens=4, jit_compile=True)
    np.testing.assert_array_equal(tokens.numpy(), np.asarray(expected)[:, :tokens.shape[1]])
    with pytest.raises(ValueError, match=r"dtype must be one of \('bfloat16', 'float16'\)"):
        export_saved_model(model, tmp_path / "bad", dtype="int8")
    assert not (tmp_path / "bad").exists()


# Other sizes than the fixtures' (both: d_model 32, 2+2 layers, 4 heads), still tiny.
OTHER_SIZES = {"t5_lm": dict(d_model=48, d_kv=12, d_ff=100, num_layers=3, num_decoder_layers=1, num_heads=4),
               "bart_lm": dict(d_model=48, encoder_ffn_dim=100, decoder_ffn_dim=100, encoder_layers=3,
                               decoder_layers=1, encoder_attention_heads=4, decoder_attention_heads=4)}


def _perturbed(model, seed):
    """Every weight moved by noise of 0.2 times (1 + its magnitude): large, varied logits, as trained models have."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        value = np.asarray(weight.value)
        weight.assign(value + 0.2 * (1 + np.abs(value)) * rng.standard_normal(value.shape).astype(value.dtype))
    return model


@pytest.mark.parametrize("name, size, dtype", [("t5_lm", "fixture", None), ("t5_lm", "fixture", "bfloat16"),
                                               ("t5_lm", "other", None), ("bart_lm", "fixture", None),
                                               ("bart_lm", "fixture", "bfloat16"), ("bart_lm", "other", None)])
def test_seq2seq_exports_with_perturbed_weights_verify(name, size, dtype, tmp_path):
    """The float32 rounding between the eager model and the traced graph (1.55e-5 on a perturbed T5's logits, once
    refused) passes the scaled tolerance, at the fixtures' sizes and others, in float32 and bfloat16."""
    case = Case(name)
    if size == "fixture":
        model = case.model_class.from_pretrained(case.path("tf_h5"))
    else:
        config = case.model_class.config_class.from_pretrained(case.path("tf_h5"), **OTHER_SIZES[name])
        model = case.model_class(config)
        model(model.dummy_inputs)
    model = _perturbed(model, seed=0)
    inputs = {key: tf.constant(value, tf.int32) for key, value in model.dummy_inputs.items()}
    reference = model if dtype is None else copy_at_precision(model, dtype)
    expected = tf.cast(reference(inputs, training=False).logits, tf.float32).numpy()
    assert np.abs(expected).max() > 1.0  # logits of a trained model's scale, where rounding differences grow
    path = export_saved_model(model, tmp_path / "export", dtype=dtype)  # verified, or ExportError
    served = tf.saved_model.load(path).signatures["serving_default"](**inputs)["logits"].numpy()
    assert compare(served, expected, verification_tolerance(reference)) == ""
