"""The exported `generate` signatures: the same tokens as `model.generate` in a TensorFlow-only process, a per-row
`max_new_tokens` capped by the export, XLA programs (or plain graphs on request) with warm-up records, and TF
Serving's REST predict bodies (row and columnar layouts)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from serving import export_saved_model
from tests.helpers import Case
from tests.serving.test_export import _load_elsewhere

pytestmark = pytest.mark.slow
SETTINGS = {"max_new_tokens": 8, "min_new_tokens": 8, "pad_to_multiple_of": 8}


@pytest.fixture(scope="module")
def lm_and_prompts():
    case = Case("gpt2_lm")
    data = np.load(os.path.join(case.root, "io.npz"))
    model = case.model_class.from_pretrained(case.path("pt_safetensors"))
    return model, data["gen.input_ids"], data["gen.attention_mask"], data


@pytest.fixture(scope="module")
def greedy_export(lm_and_prompts, tmp_path_factory):
    model = lm_and_prompts[0]
    return export_saved_model(model, tmp_path_factory.mktemp("lm") / "export", generate=True,
                              generation_kwargs=SETTINGS)  # verified in a TF-only process


@pytest.mark.parametrize("num_beams", [1, 3])
def test_generate_signature_gives_generate_tokens_without_keras(lm_and_prompts, greedy_export, num_beams, tmp_path):
    model, ids, mask, data = lm_and_prompts
    path = greedy_export
    if num_beams > 1:
        path = export_saved_model(model, tmp_path / "beam", generate=True, generation_kwargs={**SETTINGS,
                                                                                             "num_beams": 3})
    expected = model.generate(ids, attention_mask=mask, num_beams=num_beams, **SETTINGS).numpy()
    np.testing.assert_array_equal(expected, data["gen.pt.greedy" if num_beams == 1 else "gen.pt.beam"])
    limited = model.generate(ids, attention_mask=mask, num_beams=num_beams,
                             **{**SETTINGS, "max_new_tokens": 3, "min_new_tokens": 3}).numpy()
    cases = {
        "a/generate/in/input_ids": ids, "a/generate/in/attention_mask": mask,
        "a/generate/out/sequences": expected, "a/generate/out/sequence_lengths": np.array([14, 14], np.int32),
        # row 0 asks for 3 tokens, row 1 for 50 (capped at 8): row 0 is padded after its 3
        "b/generate_max_new_tokens/in/input_ids": ids, "b/generate_max_new_tokens/in/attention_mask": mask,
        "b/generate_max_new_tokens/in/max_new_tokens": np.array([3, 50], np.int32),
        "b/generate_max_new_tokens/out/sequence_lengths": np.array([9, 14], np.int32),
    }
    if num_beams == 1:  # greedy: the first 3 tokens of a longer run are the 3-token run's
        padded = np.concatenate([limited[:1], np.full((1, 5), 98, np.int32)], axis=1)
        cases["b/generate_max_new_tokens/out/sequences"] = np.concatenate([padded, expected[1:]])
    report = _load_elsewhere(path, cases, tmp_path)
    assert report["problems"] == [] and report["checked"] == 2
    assert {"generate", "generate_max_new_tokens", "serving_default", "int64_serving"} <= set(report["signatures"])


def _xla_functions(export_dir) -> list[str]:
    """The functions of a SavedModel that TensorFlow must compile with XLA (`_XlaMustCompile`)."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as file:
        saved.ParseFromString(file.read())
    library = saved.meta_graphs[0].graph_def.library.function
    return [f.signature.name for f in library if f.attr["_XlaMustCompile"].b]


def _warmup_requests(export_dir) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The `(signature, inputs)` of each record of an export's TF Serving warm-up file."""
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(export_dir, "assets.extra", "tf_serving_warmup_requests")
    requests = [prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
                for record in tf.data.TFRecordDataset(path)]
    return [(r.model_spec.signature_name, {k: tf.make_ndarray(v) for k, v in r.inputs.items()}) for r in requests]


def test_generate_signatures_run_the_compiled_program_and_warm_up(lm_and_prompts, greedy_export):
    """The served generate runs `generate(jit_compile=True)`'s XLA programs (one row on transposed kernels: the same
    tokens), and TF Serving's warm-up file asks `generate` for one row of one padded length."""
    model, ids, mask, data = lm_and_prompts
    xla = sorted(name.rsplit("_", 1)[0] for name in _xla_functions(greedy_export))
    assert xla == ["__inference_decode"] * 2  # one row and many rows, shared by the two signatures
    loaded = tf.saved_model.load(greedy_export)
    one_row = loaded.signatures["generate"](input_ids=tf.constant(ids[1:]), attention_mask=tf.constant(mask[1:]))
    compiled = model.generate(ids[1:], attention_mask=mask[1:], jit_compile=True, **SETTINGS).numpy()
    np.testing.assert_array_equal(one_row["sequences"].numpy(), compiled)
    np.testing.assert_array_equal(compiled, data["gen.pt.greedy"][1:])
    records = _warmup_requests(greedy_export)
    assert [signature for signature, _ in records] == ["serving_default", "generate"]
    warm = records[1][1]
    assert warm["input_ids"].shape == (1, SETTINGS["pad_to_multiple_of"]) and warm["attention_mask"].all()


def test_generate_signatures_without_xla_give_the_same_tokens(lm_and_prompts, tmp_path):
    """`jit_compile=False`: plain TensorFlow graphs (TF Serving without XLA), verified on the same tokens."""
    model, ids, mask, data = lm_and_prompts
    path = export_saved_model(model, tmp_path / "plain", generate=True,
                              generation_kwargs={**SETTINGS, "jit_compile": False})
    assert _xla_functions(path) == []
    out = tf.saved_model.load(path).signatures["generate"](input_ids=tf.constant(ids), attention_mask=tf.constant(mask))
    np.testing.assert_array_equal(out["sequences"].numpy(), data["gen.pt.greedy"])


def _rest_predict(loaded, body: str) -> dict:
    """What TF Serving's REST `:predict` does with a JSON body: the row (`instances`) or columnar (`inputs`)
    layout into the signature's typed tensors, and the outputs back in the same layout."""
    request = json.loads(body)
    function = loaded.signatures[request.get("signature_name", "serving_default")]
    specs = function.structured_input_signature[1]
    if "instances" in request:
        columns = {name: [row[name] for row in request["instances"]] for name in specs}
    else:
        columns = request["inputs"]
    outputs = {k: v.numpy().tolist() for k, v in function(**{k: tf.constant(columns[k], specs[k].dtype)
                                                             for k in specs}).items()}
    if "instances" in request:
        return {"predictions": [dict(zip(outputs, row)) for row in zip(*outputs.values())]}
    return {"outputs": outputs}


def test_rest_predict_bodies_call_the_generate_signature(lm_and_prompts, greedy_export):
    model, ids, mask, data = lm_and_prompts
    loaded = tf.saved_model.load(greedy_export)
    rows = json.dumps({"signature_name": "generate", "instances": [
        {"input_ids": ids[i].tolist(), "attention_mask": mask[i].tolist()} for i in range(2)]})
    answer = _rest_predict(loaded, rows)["predictions"]
    assert [row["sequences"] for row in answer] == data["gen.pt.greedy"].tolist()
    assert [row["sequence_lengths"] for row in answer] == [14, 14]
    columns = json.dumps({"signature_name": "generate_max_new_tokens", "inputs": {
        "input_ids": ids[1:].tolist(), "attention_mask": mask[1:].tolist(), "max_new_tokens": [2]}})
    answer = _rest_predict(loaded, columns)["outputs"]
    assert answer == {"sequences": [data["gen.pt.greedy"][1, :8].tolist()], "sequence_lengths": [8]}


def test_generate_export_needs_a_generating_model(tmp_path):
    from tests.keras_integration.tiny import tiny_model

    with pytest.raises(ValueError, match="generate=True needs a model that can generate"):
        export_saved_model(tiny_model("TFGPT2ForSequenceClassification"), tmp_path / "x", generate=True)
    assert not os.path.exists(tmp_path / "x" / "1")


def test_cli_export_with_generate(lm_and_prompts, tmp_path):
    import subprocess
    import sys

    model, ids, mask, data = lm_and_prompts
    result = subprocess.run([sys.executable, "-m", "tfmodels.cli", "export", Case("gpt2_lm").path("pt_safetensors"),
                             str(tmp_path / "base"), "--generate", "--max-new-tokens", "4", "--num-beams", "3",
                             "--batch-sizes", "1,2", "--no-verify", "--no-xla"], capture_output=True, text=True,
                            timeout=900,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert _xla_functions(result.stdout.splitlines()[0]) == []  # --no-xla: plain graphs
    generate = tf.saved_model.load(result.stdout.splitlines()[0]).signatures["generate"]
    out = generate(input_ids=tf.constant(ids), attention_mask=tf.constant(mask))
    expected = model.generate(ids, attention_mask=mask, max_new_tokens=4, num_beams=3).numpy()
    np.testing.assert_array_equal(out["sequences"].numpy(), expected)
    records = _warmup_requests(result.stdout.splitlines()[0])  # one per --batch-sizes entry
    assert [(signature, inputs["input_ids"].shape) for signature, inputs in records[1:]] == [
        ("generate", (1, 8)), ("generate", (2, 8))]
