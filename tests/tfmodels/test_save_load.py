"""Our own saves: every layout reloads identically, matches the reference's h5 layout, and saving is safe."""

import json
import os

import h5py
import numpy as np
import pytest

import tfmodels
from tests.helpers import CASES, Case, in_reference_order, outputs_equal, run
from tfmodels.checkpoints import pytorch_layout, safetensors_format, writer
from tfmodels.checkpoints.h5_format import load_attributes
from tfmodels.errors import CheckpointError

SAVE_MODES = {
    "h5": {},
    "sharded_h5": {"max_shard_size": "20KB"},
    "safetensors": {"safe_serialization": True},  # the PyTorch layout
    "sharded_safetensors": {"safe_serialization": True, "max_shard_size": "20KB"},
    "tf_safetensors": {"safe_serialization": True, "weight_names": "tf"},
    "sharded_tf_safetensors": {"safe_serialization": True, "weight_names": "tf", "max_shard_size": "20KB"},
}


# The cases the reference wrote TF checkpoints for (Llama's are PyTorch only).
TF_CASES = [name for name in CASES if Case(name).has_tf_reference]


@pytest.mark.parametrize("mode", SAVE_MODES)
@pytest.mark.parametrize("case_name", CASES)
def test_own_save_reloads_identically(case_name, mode, tmp_path):
    case = Case(case_name)
    model = case.model_class.from_pretrained(case.path("tf_h5" if case.has_tf_reference else "pt_safetensors"))
    model.save_pretrained(tmp_path, **SAVE_MODES[mode])
    files = sorted(os.listdir(tmp_path))
    configs = ["config.json", "generation_config.json"] if model.can_generate() else ["config.json"]
    configs += list(model.side_files())  # an image or audio model's preprocessor_config.json
    if mode == "h5":
        assert files == sorted(configs + ["tf_model.h5"])
    elif mode in ("safetensors", "tf_safetensors"):
        assert files == sorted(configs + ["model.safetensors"])
    else:
        index = "tf_model.h5.index.json" if mode == "sharded_h5" else "model.safetensors.index.json"
        assert index in files and len(files) > 3
        weight_map = json.load(open(tmp_path / index))["weight_map"]
        names = [w.key for w in model.pytorch_weights()] if mode == "sharded_safetensors" else [
            w.path + ":0" for w in model.weights]  # PyTorch keys, or full TF names as the reference's indexes
        assert sorted(weight_map) == sorted(names)
    reloaded, info = case.model_class.from_pretrained(tmp_path, output_loading_info=True)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
    outputs_equal(run(model, case), run(reloaded, case))


@pytest.mark.parametrize("case_name", TF_CASES)
def test_h5_layout_matches_reference(case_name, tmp_path):
    case = Case(case_name)
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    model.save_pretrained(tmp_path)

    def weighted_layers(path):
        with h5py.File(path, "r") as handle:
            result = {}
            for layer in load_attributes(handle, "layer_names"):
                names = load_attributes(handle[layer], "weight_names")
                if names:
                    result[layer] = names
                    for name in names:  # every listed weight is stored under the layer group
                        assert isinstance(handle[layer][name], h5py.Dataset)
            return result

    # In the reference's order (Whisper's lazily created encoder positions last; its loader reads by name).
    ours = {layer: in_reference_order(case_name, list(names))
            for layer, names in weighted_layers(tmp_path / "tf_model.h5").items()}
    reference = {layer: list(names) for layer, names in
                 weighted_layers(os.path.join(case.path("tf_h5"), "tf_model.h5")).items()}
    assert ours == reference


@pytest.mark.parametrize("case_name", ["bert_seqcls", "gpt2_lm"])
def test_sharded_h5_matches_reference_shard_layout(case_name, tmp_path):
    case = Case(case_name)
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    model.save_pretrained(tmp_path, max_shard_size="20KB")
    ours = json.load(open(tmp_path / "tf_model.h5.index.json"))
    reference = json.load(open(os.path.join(case.path("tf_sharded_h5"), "tf_model.h5.index.json")))
    assert ours["weight_map"] == reference["weight_map"]
    assert ours["metadata"] == reference["metadata"]
    shard = sorted(set(ours["weight_map"].values()))[0]
    with h5py.File(tmp_path / shard, "r") as mine, h5py.File(os.path.join(case.path("tf_sharded_h5"), shard)) as ref:
        assert load_attributes(mine, "layer_names") == load_attributes(ref, "layer_names")


def test_config_json_names_architecture_without_tf_prefix(tmp_path):
    case = Case("bert_seqcls")
    case.model_class.from_pretrained(case.path("tf_h5")).save_pretrained(tmp_path)
    config = json.load(open(tmp_path / "config.json"))
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert config["id2label"] == {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}


def test_resave_removes_stale_shards_and_nothing_else(tmp_path):
    case = Case("bert_seqcls")
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    model.save_pretrained(tmp_path, max_shard_size="20KB")
    model.save_pretrained(tmp_path, max_shard_size="20KB", safe_serialization=True)
    (tmp_path / "tokenizer.json").write_text("{}")
    (tmp_path / "README.md").write_text("card")
    (tmp_path / "modelcard.json").write_text("{}")
    model.save_pretrained(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["README.md", "config.json", "modelcard.json", "tf_model.h5",
                                             "tokenizer.json"]


def test_failed_save_leaves_previous_checkpoint_loadable(tmp_path, monkeypatch):
    case = Case("bert_seqcls")
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    model.save_pretrained(tmp_path, max_shard_size="20KB")
    before = sorted(os.listdir(tmp_path))

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "write_safetensors", disk_full)
    with pytest.raises(CheckpointError, match="No space left on device.*previous checkpoint there, if any, is unch"):
        model.save_pretrained(tmp_path, safe_serialization=True)
    assert sorted(os.listdir(tmp_path)) == before
    monkeypatch.undo()

    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(writer.tempfile, "mkdtemp", read_only)
    with pytest.raises(CheckpointError, match="Read-only file system"):
        model.save_pretrained(tmp_path)
    assert sorted(os.listdir(tmp_path)) == before
    reloaded = case.model_class.from_pretrained(tmp_path)
    outputs_equal(run(model, case), run(reloaded, case))


def test_save_into_a_file_path_is_refused(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    model = Case("bert_seqcls").model_class.from_pretrained(Case("bert_seqcls").path("tf_h5"))
    with pytest.raises(CheckpointError, match="expects a directory"):
        model.save_pretrained(target)


def test_head_loads_base_checkpoint_and_base_loads_head_checkpoint():
    base = Case("bert_base")
    for layout in ("tf_h5", "pt_safetensors", "pt_bin"):
        head, info = tfmodels.TFBertForSequenceClassification.from_pretrained(
            base.path(layout), output_loading_info=True
        )
        assert info["missing_keys"] == ["classifier/kernel", "classifier/bias"]
        assert info["unexpected_keys"] == []
        # weights the checkpoint lacks get fresh values: random kernel (std ~ initializer_range), zero bias
        assert 0.01 < float(np.std(head.classifier.kernel.numpy())) < 0.03
        assert not np.any(head.classifier.bias.numpy())
        encoder = tfmodels.TFBertModel.from_pretrained(base.path(layout))
        outputs = encoder(base.inputs)
        np.testing.assert_array_equal(head.bert(**base.inputs)["pooler_output"], outputs["pooler_output"])
    seqcls = Case("bert_seqcls")
    for layout in ("tf_h5", "pt_safetensors"):
        model, info = tfmodels.TFBertModel.from_pretrained(seqcls.path(layout), output_loading_info=True)
        assert info["missing_keys"] == []
        assert [k.split("/")[0].split(".")[0] for k in info["unexpected_keys"]] == ["classifier", "classifier"]


def test_shape_mismatch_raises_unless_ignored():
    case = Case("bert_seqcls")
    for layout in ("tf_h5", "pt_safetensors"):
        with pytest.raises(ValueError, match=r"classifier/(kernel|bias).*\((32, )?3,?\).*\((32, )?5,?\).*ignore_mis"):
            tfmodels.TFBertForSequenceClassification.from_pretrained(case.path(layout), num_labels=5)
        model, info = tfmodels.TFBertForSequenceClassification.from_pretrained(
            case.path(layout), num_labels=5, ignore_mismatched_sizes=True, output_loading_info=True
        )
        assert model.config.num_labels == 5
        assert 0.005 < float(np.std(model.classifier.kernel.numpy())) < 0.03
        assert sorted(info["mismatched_keys"]) == [("classifier/bias", (3,), (5,)), ("classifier/kernel", (32, 3), (32, 5))]
        assert model(case.inputs).logits.shape == (3, 5)


def test_config_kwargs_override_and_unknown_kwargs_reach_the_model():
    case = Case("bert_seqcls")
    model = tfmodels.TFBertForSequenceClassification.from_pretrained(
        case.path("tf_h5"), output_hidden_states=True, classifier_dropout=0.3
    )
    assert model.config.classifier_dropout == 0.3
    assert len(model(case.inputs).hidden_states) == 3
    with pytest.raises(ValueError, match="not_a_field"):
        tfmodels.TFBertForSequenceClassification.from_pretrained(case.path("tf_h5"), not_a_field=1)


def test_directory_without_weights_lists_what_it_found(tmp_path):
    (tmp_path / "config.json").write_text(open(os.path.join(Case("bert_base").path("tf_h5"), "config.json")).read())
    (tmp_path / "vocab.txt").write_text("a")
    with pytest.raises(CheckpointError, match=r"No model weights found.*tf_model\.h5.*'config.json', 'vocab.txt'"):
        tfmodels.TFBertModel.from_pretrained(tmp_path)


def test_safetensors_preferred_and_use_safetensors_false(tmp_path):
    case = Case("bert_seqcls")
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    model.save_pretrained(tmp_path)
    other = case.model_class.from_pretrained(case.path("tf_h5"), num_labels=3)
    other.classifier.bias.assign(np.ones(3, np.float32))
    from tfmodels.checkpoints.writer import LAYOUT_PT_SAFETENSORS, _write_files, checkpoint_tensors

    _write_files(other, str(tmp_path), 10**10, LAYOUT_PT_SAFETENSORS,  # a model.safetensors beside the h5
                 checkpoint_tensors(other, LAYOUT_PT_SAFETENSORS))
    assert np.all(case.model_class.from_pretrained(tmp_path).classifier.bias.numpy() == 1)
    assert not np.all(case.model_class.from_pretrained(tmp_path, use_safetensors=False).classifier.bias.numpy() == 1)


def test_many_weights_split_h5_name_attributes(tmp_path):
    config = tfmodels.BertConfig(vocab_size=10, hidden_size=4, num_hidden_layers=80, num_attention_heads=1,
                                 intermediate_size=4, max_position_embeddings=8)
    model = tfmodels.TFBertModel(config)
    model.save_pretrained(tmp_path)
    with h5py.File(tmp_path / "tf_model.h5", "r") as handle:
        assert "weight_names" not in handle["bert"].attrs and "weight_names0" in handle["bert"].attrs
        assert len(load_attributes(handle["bert"], "weight_names")) == len(model.weights)
    reloaded, info = tfmodels.TFBertModel.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == []
    ids = np.array([[1, 2, 3]], np.int32)
    outputs_equal(model(ids), reloaded(ids))


@pytest.mark.parametrize("layout", ["tf_sharded_h5", "pt_sharded_safetensors", "pt_sharded_bin"])
def test_sharded_checkpoints_are_read_one_shard_at_a_time(layout, monkeypatch):
    from tfmodels import save_load

    case = Case("bert_seqcls")
    open_now, most_open, opened = [0], [0], []
    readers = dict(save_load._READERS)

    def tracking(reader):
        def read(path):
            weight_file = reader(path)
            open_now[0] += 1
            most_open[0] = max(most_open[0], open_now[0])
            opened.append(os.path.basename(path))
            close = weight_file.close

            def closing():
                open_now[0] -= 1
                close()

            weight_file.close = closing
            return weight_file
        return read

    monkeypatch.setattr(save_load, "_READERS", {kind: tracking(reader) for kind, reader in readers.items()})
    model = case.model_class.from_pretrained(case.path(layout))
    shards = [name for name in os.listdir(case.path(layout)) if "-of-" in name]
    assert sorted(opened) == sorted(shards) and len(shards) == 6
    assert most_open[0] == 1 and open_now[0] == 0
    np.testing.assert_allclose(model(case.inputs).logits, case.reference["logits"], atol=1e-5)


@pytest.mark.parametrize("mode", SAVE_MODES)
def test_save_holds_one_weight_at_a_time_beyond_the_model(mode, tmp_path, monkeypatch):
    import weakref

    case = Case("bert_seqcls")
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    fetched, alive_at_fetch = [], []

    def tracking(fetch):
        def fetch_tracked(*args):
            alive_at_fetch.append(sum(ref() is not None for ref in fetched))
            array = fetch(*args)
            fetched.append(weakref.ref(array))
            return array
        return fetch_tracked

    monkeypatch.setattr(writer, "_fetch", tracking(writer._fetch))  # TF layouts
    monkeypatch.setattr(pytorch_layout.PTWeight, "load", tracking(pytorch_layout.PTWeight.load))  # PyTorch's
    if "safetensors" in mode:  # the next weight is not loaded while one is written (its own test has that)
        prefetched = safetensors_format._prefetched
        monkeypatch.setattr(safetensors_format, "_prefetched", lambda blocks, ahead: prefetched(blocks, 0))
    model.save_pretrained(tmp_path, **SAVE_MODES[mode])
    assert len(fetched) == len({id(w) for w in model.weights})  # every weight fetched once...
    assert max(alive_at_fetch) == 0  # ...and released before the next one is fetched
    reloaded = case.model_class.from_pretrained(tmp_path)
    outputs_equal(run(model, case), run(reloaded, case))


def test_a_fresh_pooler_is_reported_like_a_fresh_head(caplog):
    """A masked-LM checkpoint has no pooler: the bare model loads it with the pooler fresh, which is expected
    (reported as a head to train), unlike a fresh encoder weight (reported as a bug)."""
    case = Case("roberta_mlm")
    with caplog.at_level("WARNING", logger="tfmodels.save_load"):
        model, info = tfmodels.TFRobertaModel.from_pretrained(case.path("tf_h5"), output_loading_info=True)
    assert info["missing_keys"] == ["roberta/pooler/dense/kernel", "roberta/pooler/dense/bias"]
    assert info["unexpected_keys"] == []  # the masked-LM head is a pre-training head: expected unused
    assert "were not initialized from the checkpoint" in caplog.text
    assert "almost always a bug" not in caplog.text
    np.testing.assert_allclose(model(case.inputs, output_hidden_states=True).hidden_states[-1],
                               case.reference["hidden_states"][-1], atol=1e-5, rtol=0)
