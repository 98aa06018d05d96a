"""Every check on the model classes of `model_checks.ARCHITECTURES` that `tfmodels` exports: save/load (every
class in the PyTorch layout and h5, each architecture's first head in every format), the `.keras` round trip (every
class), and on the classes with code of their own (`checked_classes`: a family member such as Mistral runs them on
its first head, its other classes being its original's): `evaluate` equal to the mean loss, two `fit` steps lowering
the loss, a serving export (verified in a TensorFlow-only process for each architecture's bare model in float32 and
first head in bfloat16; the other classes' serving function traced on the export's input signature), resizing and
pruning. Parity with PyTorch is checked on the fixtures by `test_parity.py`."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

import tfmodels
from serving import export_saved_model
from serving.signatures import default_signatures
from tests.helpers import CASES, FIXTURES, Case, outputs_equal
from tests.tfmodels.models.model_checks import (
    ARCHITECTURES, BATCH, PRETRAINING_TASKS, SAVE_FORMATS, architecture_of, checked_classes, exported_classes,
    first_head, table_classes, task_of, tiny_batch, tiny_model,
)

pytestmark = pytest.mark.slow  # 2-8 s a test (tracing `fit`, a verified export: a TensorFlow subprocess)
every_class = pytest.mark.parametrize("class_name", exported_classes())
checked_class = pytest.mark.parametrize("class_name", checked_classes())
FIRST_HEADS = [first_head(model_type) for model_type in ARCHITECTURES]
# Every class in the PyTorch layout and in h5 (its own weight names in each); sharding and TF-named safetensors are
# the same code for every class of an architecture, so each architecture's first head runs them.
PER_CLASS_FORMATS = ("safetensors", "h5")
SAVE_CASES = [(name, save_format) for name in exported_classes() for save_format in PER_CLASS_FORMATS] + [
    (name, save_format) for name in FIRST_HEADS for save_format in SAVE_FORMATS if save_format not in PER_CLASS_FORMATS]
# Verified exports (a TensorFlow subprocess each, about 10 s): every architecture's first head in bfloat16, and in
# float32 the bare model of one architecture per backbone (encoder, GPT-2, the two encoder-decoders, the decoder
# layer of the Llama family, a mixture of experts); the other bare models trace the serving function below.
FLOAT32_EXPORTS = ("TFBertModel", "TFGPT2Model", "TFBartModel", "TFT5Model", "TFLlamaModel", "TFMixtralModel")
# CLIP's towers are verified through TFCLIPModel's export (the same towers); theirs trace the serving function.
VERIFIED_EXPORTS = {**dict.fromkeys(FLOAT32_EXPORTS), **{name: "bfloat16" for name in FIRST_HEADS
                                                         if name not in ("TFCLIPTextModel", "TFCLIPVisionModel")}}
NO_LOADING_PROBLEMS = {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}


def _batch(inputs, labels):
    """The dict a model is called with: inputs and labels (a bare model's regression target is not an input)."""
    return {**inputs, **labels} if isinstance(labels, dict) else inputs


def _compiled(class_name, run_eagerly=False):
    """A tiny model compiled on its own loss (a bare model, which has none: mean squared error on its first output),
    with its `(x, y)` training data. Plain SGD: tracing Adam's update of every variable costs ~5 s a model."""
    model = tiny_model(class_name)
    inputs, labels = tiny_batch(model)
    own_loss = isinstance(labels, dict)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="auto" if own_loss else "mse", run_eagerly=run_eagerly)
    return model, (_batch(inputs, labels), None) if own_loss else (inputs, labels)


def _arrays(output, without: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """A model output as arrays (per-layer tuples stacked), leaving out the outputs named in `without`."""
    return {name: np.stack(value) if isinstance(value, (tuple, list)) else np.asarray(value)
            for name, value in output.items() if name not in without}


# ---- the table ------------------------------------------------------------------------------------------------------
def test_every_class_of_the_table_is_exported():
    missing = [name for name in table_classes() if name not in tfmodels.__all__]
    assert missing == [], f"model_checks.ARCHITECTURES names classes tfmodels does not export: {missing}"


def test_every_exported_model_class_is_in_the_table():
    assert sorted(set(tfmodels.MODEL_CLASSES) - set(table_classes())) == []


def test_table_entries_are_consistent():
    for model_type, entry in ARCHITECTURES.items():
        tasks = [task_of(name) for name in entry.classes]
        assert len(set(entry.classes)) == len(entry.classes), model_type
        assert tasks.count("base") == 1 or tasks == ["contrastive"], model_type  # CLIP: no bare model of its own
        assert (entry.pretraining is not None) == ("pretraining" in tasks), model_type
        assert entry.pretraining is None or entry.pretraining in PRETRAINING_TASKS, model_type
        if entry.config_class in tfmodels.__all__:
            assert getattr(tfmodels, entry.config_class).model_type == model_type


def test_every_fixture_case_is_in_the_table():
    """Each case folder (indexed for the parity test or not yet) names its class in the table, and the reverse."""
    on_disk = sorted(name for name in os.listdir(FIXTURES) if os.path.isdir(os.path.join(FIXTURES, name)))
    in_table = {case: (model_type, name) for model_type, entry in ARCHITECTURES.items()
                for case, name in entry.cases.items()}
    assert sorted(in_table) == on_disk and set(CASES) <= set(in_table)
    for case_name, (model_type, class_name) in in_table.items():
        meta = Case(case_name).meta
        assert (meta["config_class"], Case(case_name).class_name) == (ARCHITECTURES[model_type].config_class,
                                                                     class_name)
        assert class_name in ARCHITECTURES[model_type].classes


# ---- the checks -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("class_name, save_format", SAVE_CASES)
def test_save_pretrained_reloads_identically(class_name, save_format, tmp_path):
    model = tiny_model(class_name)
    batch = _batch(*tiny_batch(model))
    model.save_pretrained(tmp_path, **SAVE_FORMATS[save_format])
    extension = ".safetensors" if "safetensors" in save_format else ".h5"
    weight_files = [name for name in os.listdir(tmp_path) if not name.endswith(".json")]
    assert weight_files and all(name.endswith(extension) for name in weight_files)
    assert (len(weight_files) > 1) == save_format.startswith("sharded")
    reloaded, info = type(model).from_pretrained(tmp_path, output_loading_info=True)
    assert info == NO_LOADING_PROBLEMS
    outputs_equal(model(batch), reloaded(batch))


def test_save_cases_cover_every_class_and_format():
    assert {name for name, _ in SAVE_CASES} == set(exported_classes())
    assert {save_format for _, save_format in SAVE_CASES} == set(SAVE_FORMATS)
    assert len(FIRST_HEADS) == len(ARCHITECTURES)
    assert all(task_of(name) != "base" or len(architecture_of(name).classes) == 1 for name in FIRST_HEADS)


def test_family_members_subclass_their_original_classes():
    """What lets a family member run the training, serving and surgery checks on its first head only: each of its
    classes is a subclass of its original's class of the same task adding nothing (the original's `call` and
    methods), and its PreTrainedModel sets only its config class (and Qwen2 its q/k/v biases)."""
    members = [model_type for model_type, entry in ARCHITECTURES.items() if entry.family is not None]
    assert sorted(members) == ["camembert", "mistral", "mt5", "qwen2", "xlm-roberta"]
    for model_type in members:
        original = ARCHITECTURES[ARCHITECTURES[model_type].family]
        assert len(original.classes) == len(ARCHITECTURES[model_type].classes), model_type
        for name, twin in zip(ARCHITECTURES[model_type].classes, original.classes):  # the same heads, in order
            assert task_of(name) == task_of(twin), (name, twin)
            assert issubclass(getattr(tfmodels, name), getattr(tfmodels, twin)), (name, twin)
            assert sorted(set(vars(getattr(tfmodels, name))) - {"__module__", "__qualname__", "__doc__"}) == [], name
        base = getattr(tfmodels, ARCHITECTURES[model_type].classes[0]).__mro__[1]  # the family's PreTrainedModel
        assert sorted(set(vars(base)) - {"__module__", "__qualname__", "__doc__"}) <= ["config_class", "qkv_bias"]


@pytest.mark.filterwarnings("ignore:Gradients do not exist:UserWarning")  # a bare model's pooler: not in its loss
@checked_class
def test_fit_two_steps_lowers_the_loss(class_name):
    model, (x, y) = _compiled(class_name)
    losses = model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0).history["loss"]
    assert len(losses) == 2 and losses[1] < losses[0], losses


@checked_class
def test_evaluate_is_the_mean_model_loss(class_name):
    # Eagerly: the aggregation of the model's loss is the same code in a graph (which `fit` above traces).
    model, (x, y) = _compiled(class_name, run_eagerly=True)
    evaluated = model.evaluate(x, y, batch_size=BATCH, verbose=0, return_dict=True)["loss"]
    output = model(x, **model.loss_call_flags)  # the flags `evaluate` passes too (CLIP's return_loss)
    expected = np.mean(output.loss) if y is None else np.mean(np.square(output.last_hidden_state - y))
    np.testing.assert_allclose(evaluated, expected, atol=1e-5, rtol=0)


@every_class
def test_keras_file_round_trip(class_name, tmp_path):
    model = tiny_model(class_name)
    batch = _batch(*tiny_batch(model))
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    outputs_equal(model(batch), loaded(batch))


def _signature_inputs(export_dir: str) -> dict[str, dict[str, str]]:
    """`{signature: {input name: dtype}}` as written in the export's `saved_model.pb`."""
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as handle:
        saved_model.ParseFromString(handle.read())
    return {name: {key: tf.dtypes.as_dtype(spec.dtype).name for key, spec in signature.inputs.items()}
            for name, signature in saved_model.meta_graphs[0].signature_def.items() if not name.startswith("__")}


@pytest.mark.parametrize("class_name", VERIFIED_EXPORTS)
def test_serving_export_is_verified_and_takes_the_input_signature(class_name, tmp_path):
    model = tiny_model(class_name)
    names = sorted(model.input_signature)
    assert ("token_type_ids" in names) == architecture_of(class_name).token_type_ids
    dtype = VERIFIED_EXPORTS[class_name]
    # Verified in a TensorFlow-only process, against a bfloat16 copy of the model for the first heads.
    path = export_saved_model(model, tmp_path / "export", dtype=dtype)
    assert path == str(tmp_path / "export" / "1") and model.compute_dtype == "float32"  # the model is unchanged
    loaded = tf.saved_model.load(path)
    floats = [variable.dtype.name for variable in loaded.variables if variable.dtype.is_floating]
    # All at the export's precision but BART's final_logits_bias, a float32 variable in every model (as the reference).
    assert len(floats) - floats.count(dtype or "float32") <= (1 if class_name.startswith("TFBart") else 0), floats
    dtypes = {name: spec.dtype.name for name, spec in model.input_signature.items()}
    expected = {"serving_default": dtypes}
    if "int32" in dtypes.values():
        expected["int64_serving"] = {name: dtype.replace("int32", "int64") for name, dtype in dtypes.items()}
    # Raw inputs (encoded images, audio samples), processed in the graph.
    for name, (_, (specs,)) in getattr(model, "raw_input_serving_functions", dict)().items():
        expected[name] = {key: spec.dtype.name for key, spec in specs.items()}
    assert _signature_inputs(path) == expected


@pytest.mark.parametrize("class_name", [name for name in checked_classes() if name not in VERIFIED_EXPORTS])
def test_serving_function_traces_on_the_export_signature(class_name):
    """What an export traces, for the classes not exported above: the serving function on the input signature
    (batch and length unknown), answering the eager model's outputs."""
    model = tiny_model(class_name)
    names = sorted(model.input_signature)
    assert ("token_type_ids" in names) == architecture_of(class_name).token_type_ids
    function, (specs,) = default_signatures(model)["serving_default"]
    concrete = tf.function(function).get_concrete_function(specs)
    assert sorted(concrete.structured_input_signature[0][0]) == names
    inputs = {name: tf.constant(value, model.input_signature[name].dtype) for name, value in model.dummy_inputs.items()}
    assert sorted(inputs) == names
    expected = model.serving_output(model(inputs, training=False))
    served = concrete(inputs)
    assert sorted(served) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(served[name], value, atol=1e-5, rtol=1e-5, err_msg=name)


@checked_class
def test_resize_token_embeddings(class_name, tmp_path):
    model = tiny_model(class_name)
    inputs, _ = tiny_batch(model)
    if not architecture_of(class_name).resizing:
        with pytest.raises(NotImplementedError):
            model.resize_token_embeddings(getattr(model.config, "vocab_size", 0) + 3)
        return
    vocab = model.config.vocab_size
    before = _arrays(model(inputs))
    old_rows = model.get_input_embeddings().embeddings.numpy()
    model.resize_token_embeddings(vocab + 3)
    assert model.config.vocab_size == vocab + 3
    rows = model.get_input_embeddings().embeddings.numpy()
    assert rows.shape == (vocab + 3, old_rows.shape[1])
    np.testing.assert_array_equal(rows[:vocab], old_rows)
    after = _arrays(model(inputs))
    over_vocabulary = [name for name, value in before.items() if value.ndim and value.shape[-1] == vocab]
    assert bool(over_vocabulary) == (model.get_output_embeddings() is not None), over_vocabulary
    for name, value in before.items():
        if name in over_vocabulary:  # new tokens add logits; the old ones stay
            assert after[name].shape == value.shape[:-1] + (vocab + 3,)
            np.testing.assert_allclose(after[name][..., :vocab], value, atol=1e-6, rtol=0, err_msg=name)
        else:
            np.testing.assert_allclose(after[name], value, atol=1e-6, rtol=0, err_msg=name)
    model.save_pretrained(tmp_path)
    reloaded = type(model).from_pretrained(tmp_path)
    assert reloaded.config.vocab_size == vocab + 3
    outputs_equal(model(inputs), reloaded(inputs))


@checked_class
def test_prune_heads_removes_one_head_as_masking_it_does(class_name, tmp_path):
    model = tiny_model(class_name)
    inputs, _ = tiny_batch(model)
    if not architecture_of(class_name).pruning:
        with pytest.raises(NotImplementedError, match="does not support head pruning"):
            model.prune_heads({0: [0]})
        return
    config = model.config
    head_size = config.hidden_size // config.num_attention_heads
    head_mask = np.ones((config.num_hidden_layers, config.num_attention_heads), np.float32)
    head_mask[0, 0] = 0  # row 0 masks what layer 0's weights compute (in ALBERT's shared group, every step: the
    # reference applies row `group * layers_per_group + inner` at each step, so row 0 throughout)
    # A decoder's key/value cache keeps the masked head (and loses the pruned one): not compared.
    masked = _arrays(model(inputs, head_mask=head_mask), without=("past_key_values",))
    parameters = model.num_parameters()
    model.prune_heads({0: [0]})
    assert model.config.pruned_heads == {0: [0]}
    # One head fewer in the query, key and value projections (kernel and bias) and the output projection's kernel.
    assert parameters - model.num_parameters() == head_size * (4 * config.hidden_size + 3)
    pruned = _arrays(model(inputs), without=("past_key_values",))
    assert sorted(pruned) == sorted(masked)
    for name, value in masked.items():
        np.testing.assert_allclose(pruned[name], value, atol=1e-5, rtol=0, err_msg=name)
    model.save_pretrained(tmp_path)
    reloaded, info = type(model).from_pretrained(tmp_path, output_loading_info=True)
    assert info == NO_LOADING_PROBLEMS and reloaded.config.pruned_heads == {0: [0]}
    assert reloaded.num_parameters() == model.num_parameters()
    outputs_equal(model(inputs), reloaded(inputs))
