"""The examples (in a reduced mode) and the `tfmodels` command line."""

import importlib.util
import json
import os
import re
import subprocess
import sys

import huggingface_hub
import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.helpers import Case, outputs_equal, run
from tfmodels.checkpoints.safetensors_format import read_header

pytestmark = pytest.mark.slow
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _example(name):
    if os.path.join(ROOT, "examples") not in sys.path:
        sys.path.insert(0, os.path.join(ROOT, "examples"))  # predict.py imports text_classification, as a script
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "examples", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("flags, expected", [
    ("fpu avx2 fma", "float32"), ("avx2 avx512f avx512_bf16", "mixed_bfloat16"),
    ("avx512f amx_bf16 amx_tile", "mixed_bfloat16"), (None, "float32"),
])
def test_main_example_trains_in_bfloat16_only_where_the_cpu_multiplies_it(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    if flags is not None:  # None: no such file (not Linux)
        cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    assert _example("text_classification").default_precision(str(cpuinfo)) == expected


def test_main_example_reduced_run_produces_every_artefact(tmp_path):
    out = tmp_path / "out"
    env = {key: value for key, value in ENV.items() if not key.startswith("TF_CPP")}  # the example sets its own
    job = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "text_classification.py"), "--output-dir",
                           str(out), "--epochs", "1", "--max-steps", "3", "--max-examples", "48"],
                          capture_output=True, text=True, env=env, timeout=900)
    assert job.returncode == 0, job.stderr[-3000:]
    printed = job.stdout + job.stderr
    assert "retracing" not in printed and "absl::InitializeLog" not in printed
    assert not re.search(r"^[IWEF]\d{4} ", printed, re.MULTILINE), printed[-3000:]  # TensorFlow's C++ log lines
    assert "Validation accuracy before fine-tuning" in job.stdout and "confusion matrix" in job.stdout
    precision = _example("text_classification").default_precision()
    assert f"Training in {precision} (chosen for this CPU; --precision to override)" in job.stdout
    with open(out / "results.json", encoding="utf-8") as handle:
        results = json.load(handle)
    assert results["validation_examples"] == 48 and 0 <= results["accuracy_after"] <= 1
    # the float32 export answers as the saved model (verified within 1e-5); the bfloat16 export is its own
    assert results["export_accuracy"]["float32"] == results["accuracy_after"]
    assert 0 <= results["export_accuracy"]["bfloat16"] <= 1 and "bfloat16 TF Serving export (verified)" in job.stdout
    bf16 = tf.saved_model.load(str(out / "serving_bfloat16" / "1"))
    assert {v.dtype for v in bf16.variables if v.dtype.is_floating} == {tf.bfloat16}

    with open(out / "training_curves.png", "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    files = sorted(os.listdir(out / "model"))
    assert "model.safetensors.index.json" in files and "tokenizer.json" in files and "README.md" in files
    assert "tokenizer_config.json" in files and read_header(str(out / "model" / "model-00001-of-00002.safetensors"))[
        1] == {"format": "pt"}  # the PyTorch layout, sharded at 50MB

    example = _example("text_classification")
    texts = [row["text"] for row in results["examples"]]
    inputs = example.encode_padded(str(out / "model" / "tokenizer.json"), texts, 64)
    reloaded = tfmodels.TFBertForSequenceClassification.from_pretrained(str(out / "model"))
    trained_logits = np.array([row["logits"] for row in results["examples"]], np.float32)
    np.testing.assert_allclose(reloaded(inputs)["logits"], trained_logits, rtol=0, atol=1e-6)  # the trained model
    served = tf.saved_model.load(str(out / "serving" / "1")).signatures["serving_default"]
    np.testing.assert_allclose(served(**{k: tf.constant(v) for k, v in inputs.items()})["logits"], trained_logits,
                               atol=1e-5)
    probabilities = tf.nn.softmax(trained_logits).numpy()
    for row, p in zip(results["examples"], probabilities):
        assert row["label"] == ("negative", "positive")[int(p.argmax())]
        assert row["probability"] == pytest.approx(float(p.max()), abs=1e-5)

    card = huggingface_hub.ModelCard.load(out / "model" / "README.md")
    assert card.data.datasets == ["glue"] and card.data.pipeline_tag == "text-classification"
    accuracy = [r for r in card.data.eval_results if r.metric_name == "val_accuracy"]
    assert len(accuracy) == 1 and (accuracy[0].dataset_type, accuracy[0].dataset_name) == ("glue", "sst2")
    assert 0 <= accuracy[0].metric_value <= 1 and "## Training results" in card.text
    assert "- batch_size: 32" in card.text and "CosineDecay" in card.text

    predict = _example("predict")
    for extra in ([], ["--export"], ["--transformers"]):  # tfmodels, the TF Serving export, transformers' pipeline
        answers = predict.main(["--output-dir", str(out), *extra, *texts[:2]])
        assert [label for label, _ in answers] == [row["label"] for row in results["examples"][:2]]
        np.testing.assert_allclose([p for _, p in answers], [row["probability"] for row in results["examples"][:2]],
                                   atol=1e-5)


def test_to_transformers_example_hands_the_model_to_transformers(tmp_path):
    result = _example("to_transformers").main(["--output-dir", str(tmp_path)])
    assert result["files"] == ["config.json", "generation_config.json", "model.safetensors"]
    assert result["config"]["architectures"] == ["GPT2LMHeadModel"] and result["config"]["dtype"] == "float32"
    assert result["class"] == "GPT2LMHeadModel" and result["loading_problems"] == {}
    assert result["max_difference"] < 1e-5 and result["same_tokens"]


def test_causal_lm_example_generates_with_the_cache():
    result = _example("causal_lm").main(["--steps", "30", "--new-tokens", "12"])
    assert np.isfinite(result["loss"]) and len(result["tokens"]) == len("The river") + 12
    assert sorted(result["all_tokens"]) == ["beam", "greedy", "sampling"]
    for tokens in result["all_tokens"].values():  # each strategy continues the prompt with 12 bytes
        assert tokens[:9] == list(b"The river") and len(tokens) == 21


def test_lora_example_saves_a_peft_adapter_and_exports_the_merged_model(tmp_path):
    result = _example("lora_causal_lm").main(["--quick", "--output-dir", str(tmp_path)])
    assert result["loss_after"] < result["loss_before"] and len(result["adapted"]) == 14  # 2 layers x 7
    prompt = np.array([list(b"The fox ")], np.int32)
    assert result["after"][:8] == prompt[0].tolist() and len(result["after"]) == 16
    with open(tmp_path / "adapter" / "adapter_config.json", encoding="utf-8") as handle:
        config = json.load(handle)
    assert (config["peft_type"], config["task_type"], config["r"], config["lora_alpha"]) == ("LORA", "CAUSAL_LM", 8, 16)
    assert config["target_modules"] == ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"]
    model = tfmodels.TFLlamaForCausalLM.from_pretrained(str(tmp_path / "base"))  # the base + the adapter: tuned
    model.load_adapter(tmp_path / "adapter")
    np.testing.assert_allclose(model(prompt).logits, result["prompt_logits"], atol=1e-5, rtol=0)
    served = tf.saved_model.load(str(tmp_path / "serving" / "1")).signatures["generate"]  # the merged model
    sequences = served(input_ids=tf.constant(prompt), attention_mask=tf.ones_like(prompt))["sequences"]
    assert sequences.numpy()[0].tolist() == result["after"]


def test_seq2seq_example_trains_generates_and_exports(tmp_path):
    result = _example("seq2seq").main(["--quick", "--output-dir", str(tmp_path)])
    assert result["loss"] < np.log(12)  # below a uniform guess over the 12 tokens: it trained
    examples = result["examples"]  # the first 8 of the 32 evaluated
    correct = sum(row["generated"] == row["target"] for row in examples)
    # An untrained model reverses no string; the score after training counts the generations shown.
    assert result["accuracy_before"] == 0 and correct / 32 <= result["accuracy_after"] <= (correct + 24) / 32
    copied = []
    for row in examples:  # the bundled task: the digits reversed, then the end token (1)
        assert row["target"] == row["source"][-2::-1] + [1]
        assert row["generated"][-1] == 1  # the 60 quick steps teach it to stop ...
        copied += [token in row["source"][:-1] for token in row["generated"][:-1]]
    assert np.mean(copied) >= 0.9  # ... and to answer with its source's digits (not yet in the right order)
    assert result["served"] == [row["generated"] for row in result["examples"][:2]]  # the export answers as generate
    assert os.path.isfile(os.path.join(result["export"], "saved_model.pb"))
    with open(tmp_path / "results.json") as handle:
        assert json.load(handle) == json.loads(json.dumps(result))


def test_image_classification_example_trains_on_png_files_and_serves_encoded_images(tmp_path):
    import torch
    import transformers
    from PIL import Image

    result = _example("image_classification").main(["--quick", "--output-dir", str(tmp_path)])
    assert len(result["loss"]) == 1 and result["loss"][0] < np.log(3) + 0.1  # about a uniform guess, or below
    assert 0 <= result["accuracy_before"] <= 1 and 0 <= result["accuracy_after"] <= 1
    assert result["served"] == result["model"]  # the export, sent the PNG files' bytes, answers as the model
    assert sorted(os.listdir(result["saved"])) == ["config.json", "model.safetensors", "preprocessor_config.json"]
    # transformers (PyTorch) reads the saved model and its processor, and answers as ours on the same files.
    pt_model = transformers.ViTForImageClassification.from_pretrained(result["saved"])
    processor = transformers.ViTImageProcessorPil.from_pretrained(result["saved"])
    files = sorted(os.path.join(tmp_path, "images", kind, name) for kind in ("disc", "vertical_stripes")
                   for name in ("0000.png", "0001.png"))
    images = [Image.open(file).convert("RGB") for file in files]
    with torch.no_grad():
        theirs = pt_model(**processor(images=images, return_tensors="pt")).logits.numpy()
    ours = tfmodels.TFViTForImageClassification.from_pretrained(result["saved"])
    np.testing.assert_allclose(ours(ours.image_processor(images)).logits, theirs, atol=2e-2, rtol=0)
    assert pt_model.config.id2label == {0: "horizontal_stripes", 1: "vertical_stripes", 2: "disc"}


def test_speech_recognition_example_trains_on_wav_files_and_serves_raw_audio(tmp_path):
    import transformers

    result = _example("speech_recognition").main(["--quick", "--output-dir", str(tmp_path)])
    assert len(result["loss"]) == 2 and result["loss"][1] < result["loss"][0]
    assert 0 <= result["accuracy_before"] <= result["accuracy_after"] <= 1
    assert len(result["served"]) == 4 and all(1 <= len(words) <= 3 for words in result["served"])
    assert sorted(os.listdir(result["saved"])) == ["config.json", "generation_config.json", "model.safetensors",
                                                   "preprocessor_config.json"]
    # transformers reads the saved model and its feature extractor.
    pt_model = transformers.WhisperForConditionalGeneration.from_pretrained(result["saved"])
    extractor = transformers.WhisperFeatureExtractor.from_pretrained(result["saved"])
    assert (pt_model.config.num_mel_bins, extractor.feature_size, extractor.nb_max_frames) == (40, 40, 200)
    assert pt_model.generation_config.begin_suppress_tokens == [2]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "tfmodels.cli", *map(str, args)], capture_output=True, text=True,
                          env=ENV, timeout=600)


def test_cli_convert_between_tf_and_pytorch_layouts(tmp_path):
    case = Case("bert_qa")
    expected_outputs = run(case.model_class.from_pretrained(case.path("tf_h5")), case)
    conversions = (  # (source, options, a file of the result, the safetensors' weight names)
        ("pt_bin", [], "tf_model.h5", None),
        ("tf_h5", ["--safetensors", "--max-shard-size", "20KB"], "model.safetensors.index.json", "pt"),
        ("tf_h5", ["--safetensors", "--tf-names"], "model.safetensors", "tf"),
    )
    for source, options, expected, names in conversions:
        target = tmp_path / f"{source}-{len(options)}"
        result = _cli("convert", case.path(source), target, *options)
        assert result.returncode == 0, result.stderr[-2000:]
        assert expected in os.listdir(target) and "TFBertForQuestionAnswering" in result.stdout
        if names is not None:
            first = sorted(name for name in os.listdir(target) if name.endswith(".safetensors"))[0]
            assert read_header(str(target / first))[1] == {"format": names}
        outputs_equal(expected_outputs, run(case.model_class.from_pretrained(target), case))
    result = _cli("convert", case.path("tf_h5"), tmp_path / "refused", "--tf-names")
    assert result.returncode == 1 and result.stderr.strip() == (
        "error: --tf-names applies to --safetensors (tf_model.h5 always holds TF names).")
    assert not os.path.exists(tmp_path / "refused")


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
