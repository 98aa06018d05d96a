"""The PyTorch layout we write (`save_pretrained(d, safe_serialization=True)`) is what transformers (PyTorch) reads:
every fixture case and every head class load there with no missing, unexpected or mismatched key and give the same
outputs; tied weights are written once, as transformers writes them; dtypes are kept; generation agrees."""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest
import torch
import transformers

import tfmodels
from tests.helpers import CASES, Case, outputs_equal
from tests.tfmodels.models.model_checks import exported_classes, tiny_batch, tiny_model
from tfmodels.checkpoints import pytorch_layout
from tfmodels.checkpoints.names import tf_to_pt_name
from tfmodels.checkpoints.safetensors_format import read_header
from tfmodels.errors import CheckpointError

pytestmark = pytest.mark.slow
NOTHING_WRONG = {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": [], "error_msgs": []}


def saved_tensors(directory) -> dict[str, tuple[str, tuple[int, ...]]]:
    """`{key: (dtype, shape)}` over every safetensors file of a save, and checks each file's metadata."""
    tensors = {}
    for name in sorted(os.listdir(directory)):
        if name.endswith(".safetensors"):
            header, metadata, _ = read_header(os.path.join(directory, name))
            assert metadata == {"format": "pt"}, name
            tensors.update({key: (entry["dtype"], tuple(entry["shape"])) for key, entry in header.items()})
    return tensors


def load_in_transformers(directory, pt_class: str, **kwargs):
    model, info = getattr(transformers, pt_class).from_pretrained(directory, output_loading_info=True, **kwargs)
    info = {key: sorted(value) for key, value in info.items()}
    assert info == NOTHING_WRONG, info
    return model.eval()


def torch_inputs(arrays: dict) -> dict:
    """Ids, masks and labels as int64 tensors, pixel values and other floats as they are."""
    return {name: torch.tensor(np.asarray(value)) if np.asarray(value).dtype.kind == "f" else
            torch.tensor(np.asarray(value), dtype=torch.long) for name, value in arrays.items()}


def assert_same_files_as_transformers(pt_model, directory, tmp_path) -> None:
    """transformers, saving the model it loaded from `directory`, writes the same keys, dtypes and shapes."""
    pt_model.save_pretrained(tmp_path / "resaved")
    assert saved_tensors(directory) == saved_tensors(tmp_path / "resaved")


# ---- every fixture case ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sharded", [False, True], ids=["whole", "sharded"])
@pytest.mark.parametrize("case_name", CASES)
def test_fixture_case_saved_here_loads_in_transformers_with_its_outputs(case_name, sharded, tmp_path):
    case = Case(case_name)
    source = "tf_h5" if "tf_h5" in case.layouts else "pt_safetensors"  # from the TF layout where the case has one
    model = case.model_class.from_pretrained(case.path(source))
    directory = tmp_path / "saved"
    model.save_pretrained(directory, safe_serialization=True, max_shard_size="20KB" if sharded else "10GB")
    files = sorted(os.listdir(directory))
    weights = [name for name in files if name.endswith(".safetensors")]
    if sharded:
        assert len(weights) > 1 and "model.safetensors.index.json" in files
        assert weights == [f"model-{i:05d}-of-{len(weights):05d}.safetensors" for i in range(1, len(weights) + 1)]
        with open(directory / "model.safetensors.index.json") as handle:
            index = json.load(handle)
        tensors = saved_tensors(directory)
        assert sorted(index["weight_map"]) == sorted(tensors)
        assert index["metadata"]["total_size"] == sum(os.path.getsize(directory / name) for name in weights) - sum(
            8 + read_header_size(directory / name) for name in weights)
    else:
        assert weights == ["model.safetensors"]
    # Every key is one of the reference's PyTorch state dict (tied copies are left out, as transformers does).
    assert set(saved_tensors(directory)) <= set(case.meta["pt_state_dict_keys"])
    with open(directory / "config.json") as handle:
        config = json.load(handle)
    assert config["architectures"] == [case.meta["pt_class"]] and config["dtype"] == "float32"

    pt_model = load_in_transformers(directory, case.meta["pt_class"])
    hidden = any(name.endswith("hidden_states") for name in case.meta["outputs"])
    with torch.no_grad():
        output = pt_model(**torch_inputs({**case.inputs, **case.labels}), output_hidden_states=hidden,
                          **case.meta.get("call_kwargs") or {})
    for name in case.meta["outputs"]:
        got = getattr(output, name)
        got = np.stack([h.numpy() for h in got]) if name.endswith("hidden_states") else got.numpy()
        np.testing.assert_allclose(got, case.reference[name], atol=1e-5, rtol=0, err_msg=name)
    if not sharded:
        assert_same_files_as_transformers(pt_model, directory, tmp_path)


def read_header_size(path) -> int:
    with open(path, "rb") as handle:
        return int.from_bytes(handle.read(8), "little")


# The PyTorch name of a label argument where it differs from ours (the reference's TF name).
PT_LABEL_NAMES = {("TFBertForNextSentencePrediction", "next_sentence_label"): "labels"}


# ---- every head class, from a config --------------------------------------------------------------------------------
@pytest.mark.parametrize("class_name", exported_classes())
def test_every_class_saved_here_loads_in_transformers_with_equal_outputs(class_name, tmp_path):
    model = tiny_model(class_name)
    inputs, labels = tiny_batch(model)
    labels = labels if isinstance(labels, dict) else {}
    model.save_pretrained(tmp_path / "saved", safe_serialization=True)
    pt_model = load_in_transformers(tmp_path / "saved", class_name[2:])
    flags = model.loss_call_flags  # CLIP's return_loss: the loss without labels
    ours = model({**inputs, **labels}, **flags)
    pt_labels = {PT_LABEL_NAMES.get((class_name, k), k): torch.tensor(v, dtype=torch.long) for k, v in labels.items()}
    with torch.no_grad():
        theirs = pt_model(**torch_inputs(inputs), **pt_labels, **flags)
    # A tower's own outputs (CLIP's) are compared by the fixture cases: transformers 5 projects their pooled output.
    compared = [name for name in ours.keys() if name not in ("loss", "past_key_values")
                and not isinstance(ours[name], dict)]
    assert compared
    for name in compared:  # per-layer outputs (a mixture of experts' router logits) stacked
        got, expected = ours[name], getattr(theirs, name)
        got, expected = (np.stack(got), torch.stack(expected)) if isinstance(got, tuple) else (got, expected)
        np.testing.assert_allclose(np.asarray(got), expected.numpy(), atol=1e-5, rtol=1e-5, err_msg=name)
    if labels or flags:  # GPT-2's double heads: one loss here, the LM's and the choice head's there
        expected = theirs.loss + getattr(theirs, "mc_loss", None) if "DoubleHeads" in class_name else theirs.loss
        np.testing.assert_allclose(np.mean(ours["loss"]), expected.numpy(), atol=1e-5, rtol=1e-5)
    # T5 v1.1's own lm_head: transformers 5 declares it tied to `shared` whatever the config says, so its save would
    # drop it; our save keeps it and transformers loads it untied (the outputs above prove it).
    if not class_name.endswith("T5ForConditionalGeneration"):
        assert_same_files_as_transformers(pt_model, tmp_path / "saved", tmp_path)


# ---- dtype, generation, LoRA ------------------------------------------------------------------------------------------
def test_bfloat16_model_writes_bfloat16_tensors_that_transformers_loads_bit_for_bit(tmp_path):
    case = Case("llama_lm")
    model = case.model_class.from_pretrained(case.path("pt_safetensors"), dtype="bfloat16")
    model.save_pretrained(tmp_path, safe_serialization=True)
    tensors = saved_tensors(tmp_path)
    assert {dtype for dtype, _ in tensors.values()} == {"BF16"}
    with open(tmp_path / "config.json") as handle:
        assert json.load(handle)["dtype"] == "bfloat16"
    pt_model = load_in_transformers(tmp_path, "LlamaForCausalLM", dtype="auto")
    state = pt_model.state_dict()
    for weight in model.pytorch_weights():
        assert state[weight.key].dtype == torch.bfloat16
        np.testing.assert_array_equal(state[weight.key].float().numpy(), weight.load().astype(np.float32),
                                      err_msg=weight.key)


@pytest.mark.parametrize("case_name", ["gpt2_lm", "llama_lm", "bart_lm", "t5_lm"])
def test_saved_language_models_generate_the_same_tokens_in_transformers(case_name, tmp_path):
    case = Case(case_name)
    model = case.model_class.from_pretrained(case.path("pt_safetensors"))
    model.save_pretrained(tmp_path, safe_serialization=True)
    assert os.path.isfile(tmp_path / "generation_config.json")
    pt_model = load_in_transformers(tmp_path, case.meta["pt_class"])
    io = np.load(os.path.join(case.root, "io.npz"))
    prompt = {"input_ids": io["gen.input_ids"], "attention_mask": io["gen.attention_mask"]}
    settings = dict(max_new_tokens=8, min_new_tokens=8, do_sample=False)
    for mode, num_beams in (("greedy", 1), ("beam", 3)):
        ours = np.asarray(model.generate(**prompt, num_beams=num_beams, **settings))
        with torch.no_grad():
            theirs = pt_model.generate(**torch_inputs(prompt), num_beams=num_beams, **settings).numpy()
        np.testing.assert_array_equal(ours, theirs, err_msg=mode)
        np.testing.assert_array_equal(theirs, io[f"gen.pt.{mode}"], err_msg=mode)


def test_merged_lora_model_saves_a_plain_transformers_checkpoint(tmp_path):
    model = tiny_model("TFLlamaForCausalLM")
    inputs, _ = tiny_batch(model)
    model.enable_lora(2, target_modules=["q_proj", "v_proj", "down_proj"])
    rng = np.random.default_rng(0)
    for variable in model.weights:
        if "lora_kernel" in variable.path:
            variable.assign(rng.normal(0, 0.3, variable.shape).astype(np.float32))
    tuned = np.asarray(model(inputs).logits)
    with pytest.raises(ValueError, match="merge_lora"):
        model.save_pretrained(tmp_path / "refused", safe_serialization=True)
    model.merge_lora()
    model.save_pretrained(tmp_path / "merged", safe_serialization=True)
    assert not any("lora" in key for key in saved_tensors(tmp_path / "merged"))
    pt_model = load_in_transformers(tmp_path / "merged", "LlamaForCausalLM")
    with torch.no_grad():
        logits = pt_model(**torch_inputs(inputs)).logits.numpy()
    np.testing.assert_allclose(logits, tuned, atol=1e-5, rtol=0)


# ---- round trip and layouts --------------------------------------------------------------------------------------
def test_pytorch_and_tf_layouts_reload_here_identically(tmp_path):
    case = Case("bart_lm")
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    expected = model({**case.inputs, **case.labels})
    for weight_names, metadata in (("pt", {"format": "pt"}), ("tf", {"format": "tf"})):
        directory = tmp_path / weight_names
        model.save_pretrained(directory, safe_serialization=True, weight_names=weight_names)
        assert read_header(str(directory / "model.safetensors"))[1] == metadata
        reloaded, info = case.model_class.from_pretrained(directory, output_loading_info=True)
        assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
        outputs_equal(expected, reloaded({**case.inputs, **case.labels}))


def test_a_pytorch_save_replaces_an_earlier_h5_save(tmp_path):
    model = tiny_model("TFBertForSequenceClassification")
    model.save_pretrained(tmp_path, max_shard_size="8KB")
    (tmp_path / "tokenizer.json").write_text("{}")
    model.save_pretrained(tmp_path, safe_serialization=True)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors", "tokenizer.json"]


def test_layout_arguments_are_checked(tmp_path):
    model = tiny_model("TFBertModel")
    with pytest.raises(ValueError, match="weight_names='pt' needs safe_serialization=True"):
        model.save_pretrained(tmp_path / "a", weight_names="pt")
    with pytest.raises(ValueError, match="weight_names must be 'pt' .* received 'torch'"):
        model.save_pretrained(tmp_path / "b", safe_serialization=True, weight_names="torch")
    assert not os.path.exists(tmp_path / "a") and not os.path.exists(tmp_path / "b")


class BertWithExtraLayer(tfmodels.TFBertForSequenceClassification):
    """A user's subclass with a layer of its own, which BertForSequenceClassification lacks."""

    def make_heads(self, config):
        super().make_heads(config)
        self.extra = keras.layers.Dense(2, name="extra")
        self.extra.build((None, config.hidden_size))


def test_a_weight_without_a_pytorch_name_is_refused_before_anything_is_written(tmp_path):
    tiny_model("TFBertForSequenceClassification").save_pretrained(tmp_path, safe_serialization=True)
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}
    model = BertWithExtraLayer(tiny_model("TFBertForSequenceClassification").config)
    with pytest.raises(CheckpointError, match=r"Weight '.*kernel' of BertWithExtraLayer has no name in "
                                              r"the PyTorch layout.*Nothing was written"):
        model.save_pretrained(tmp_path, safe_serialization=True)
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == before
    with pytest.raises(CheckpointError, match="has no name in the PyTorch layout"):
        model.save_pretrained(tmp_path / "new", safe_serialization=True)
    assert not os.path.exists(tmp_path / "new")
    model.save_pretrained(tmp_path / "tf", safe_serialization=True, weight_names="tf")  # TF names keep everything
    assert len(read_header(str(tmp_path / "tf" / "model.safetensors"))[0]) == len(model.weights)


def test_loading_with_another_class_reports_what_transformers_reports(tmp_path):
    """A masked-LM save loaded as a sequence classifier: the classifier is missing here and in transformers, and the
    pre-training head is not reported as unexpected by either."""
    tiny_model("TFBertForMaskedLM").save_pretrained(tmp_path, safe_serialization=True)
    _, ours = tfmodels.TFBertForSequenceClassification.from_pretrained(tmp_path, output_loading_info=True)
    _, theirs = transformers.BertForSequenceClassification.from_pretrained(tmp_path, output_loading_info=True)
    ours_as_pt = sorted(tf_to_pt_name(key, 2 if key.endswith("kernel") else 1)[0] for key in ours["missing_keys"])
    assert ours_as_pt == sorted(theirs["missing_keys"]) == ["bert.pooler.dense.bias", "bert.pooler.dense.weight",
                                                           "classifier.bias", "classifier.weight"]
    assert ours["unexpected_keys"] == [] and ours["mismatched_keys"] == []


def test_a_fine_tuned_head_loaded_by_another_class_is_unexpected_here_and_in_transformers(tmp_path):
    """A sequence-classifier save loaded as a masked LM: the classifier is unexpected and the masked-LM head missing
    in both. transformers also lists the decoder bias (tied to the bias, so not stored) and the pooler, which the
    reference's TF classes (and so we) do not report for a masked LM."""
    tiny_model("TFBertForSequenceClassification").save_pretrained(tmp_path, safe_serialization=True)
    _, ours = tfmodels.TFBertForMaskedLM.from_pretrained(tmp_path, output_loading_info=True)
    _, theirs = transformers.BertForMaskedLM.from_pretrained(tmp_path, output_loading_info=True)
    ours_as_pt = sorted(tf_to_pt_name(key, 2 if key.endswith("kernel") else 1)[0] for key in ours["missing_keys"])
    assert ours_as_pt == sorted(set(theirs["missing_keys"]) - {"cls.predictions.decoder.bias"}) == [
        "cls.predictions.bias", "cls.predictions.transform.LayerNorm.bias", "cls.predictions.transform.LayerNorm.weight",
        "cls.predictions.transform.dense.bias", "cls.predictions.transform.dense.weight"]
    assert sorted(ours["unexpected_keys"]) == sorted(set(theirs["unexpected_keys"]) - {
        "bert.pooler.dense.bias", "bert.pooler.dense.weight"}) == ["classifier.bias", "classifier.weight"]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_large_tensors_are_written_in_row_slices_with_the_same_bytes(dtype, tmp_path, monkeypatch):
    """Above `WRITE_SLICE_BYTES`, a tensor that twice over does not fit in the writer's budget (the largest tensor)
    is written slice by slice (the `lm_head` kernel's rows here are its columns in the model), the others whole:
    the file is byte for byte the one whole writes give, and no slice is larger than the limit."""
    from tfmodels.checkpoints import safetensors_format

    model = tiny_model("TFLlamaForCausalLM")
    if dtype == "bfloat16":
        model = type(model).from_pretrained(_saved(model, tmp_path / "fp32"), dtype="bfloat16")
    model.save_pretrained(tmp_path / "whole", safe_serialization=True)
    sliced = []
    original = pytorch_layout.RowReader.rows

    def recording(reader, start, stop):
        block = original(reader, start, stop)
        sliced.append((reader.weight.key, block.nbytes))
        return block

    monkeypatch.setattr(safetensors_format, "WRITE_SLICE_BYTES", 256)
    monkeypatch.setattr(pytorch_layout.RowReader, "rows", recording)
    model.save_pretrained(tmp_path / "sliced", safe_serialization=True)
    sizes = {weight.key: int(np.prod(weight.shape)) * weight.dtype.itemsize for weight in model.pytorch_weights()}
    assert {key for key, _ in sliced} == {key for key, nbytes in sizes.items()
                                          if nbytes > 256 and 2 * nbytes > max(sizes.values())}
    assert {"model.embed_tokens.weight", "lm_head.weight"} <= {key for key, _ in sliced}
    assert sizes["model.layers.0.mlp.down_proj.weight"] > 256  # loaded whole: twice its size fits in the budget
    assert max(nbytes for _, nbytes in sliced) <= 256
    assert (tmp_path / "sliced" / "model.safetensors").read_bytes() == (tmp_path / "whole" / "model.safetensors"
                                                                        ).read_bytes()


def _saved(model, directory) -> str:
    model.save_pretrained(directory, safe_serialization=True)
    return str(directory)
