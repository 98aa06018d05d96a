"""PretrainedConfig: HF config.json compatibility."""

import json
import os
import re

import pytest

from tests.helpers import CASES, Case
from tfmodels import AutoConfig, BertConfig, GPT2Config, PretrainedConfig
from tfmodels.errors import ConfigError


@pytest.mark.parametrize("case_name", CASES)
def test_fixture_config_round_trips_with_all_keys(case_name, tmp_path):
    case = Case(case_name)
    directory = case.path("tf_h5" if case.has_tf_reference else "pt_safetensors")  # Llama: PyTorch layouts only
    original = json.load(open(os.path.join(directory, "config.json")))
    config = AutoConfig.from_pretrained(directory)
    assert type(config).__name__ == case.meta["config_class"]
    config.save_pretrained(tmp_path)
    saved = json.load(open(tmp_path / "config.json"))
    if case.meta["reference"].startswith("transformers 5"):  # mixtral_lm: ours writes transformers 4's fields
        import transformers

        theirs = [{**transformers.AutoConfig.from_pretrained(path).to_dict(), "_name_or_path": None}
                  for path in (directory, tmp_path)]
        assert theirs[0] == theirs[1]
        assert "rope_theta" in saved and "rope_parameters" not in saved
    else:
        assert saved == original


def test_diff_only_serialisation_and_string_label_keys(tmp_path):
    # As HF: base-class fields are written only when changed; the architecture's own fields always.
    default = json.loads(BertConfig().to_json_string())
    assert default["model_type"] == "bert" and default["vocab_size"] == 30522
    assert not {"output_hidden_states", "return_dict", "id2label", "architectures"} & set(default)
    assert json.loads(PretrainedConfig().to_json_string()) == {"model_type": ""}
    config = BertConfig(hidden_size=64, num_labels=3, problem_type="single_label_classification", custom_key=[1])
    config.save_pretrained(tmp_path)
    text = (tmp_path / "config.json").read_text()
    assert text.endswith("}\n") and '"0": "LABEL_0"' in text
    saved = json.loads(text)
    assert saved["hidden_size"] == 64 and saved["custom_key"] == [1]
    assert "output_hidden_states" not in saved and saved["problem_type"] == "single_label_classification"
    reloaded = BertConfig.from_pretrained(tmp_path)
    assert reloaded.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    assert reloaded.label2id == {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2}
    assert reloaded.custom_key == [1] and reloaded.num_labels == 3
    # As the reference: a config loaded on its own equals the one that was saved; a model records its path.
    assert reloaded.to_dict() == config.to_dict() and reloaded == config and reloaded.name_or_path == ""
    assert AutoConfig.from_pretrained(tmp_path) == config


def test_keyword_overrides_and_unused_kwargs(tmp_path):
    BertConfig(num_labels=2).save_pretrained(tmp_path)
    config, unused = BertConfig.from_pretrained(tmp_path, num_labels=5, output_attentions=True, foo="bar",
                                                return_unused_kwargs=True)
    assert config.num_labels == 5 and len(config.id2label) == 5 and config.output_attentions
    assert unused == {"foo": "bar"}


def test_common_attributes():
    config = PretrainedConfig()
    assert config.use_return_dict and not config.output_hidden_states and config.num_labels == 2
    config.torchscript = True
    assert not config.use_return_dict
    with pytest.raises(ConfigError, match="problem_type"):
        BertConfig(problem_type="ranking")
    with pytest.raises(ConfigError, match="num_labels"):
        BertConfig(num_labels=0)


def test_gpt2_attribute_aliases():
    config = GPT2Config(n_embd=64, n_layer=3, n_head=4, n_positions=128)
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads,
            config.max_position_embeddings) == (64, 3, 4, 128)
    config.hidden_size = 32
    assert config.n_embd == 32
    assert GPT2Config(hidden_size=16).n_embd == 16
    assert "hidden_size" not in config.to_dict()


def test_bad_config_files_give_clear_errors(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"config.json is not valid JSON"):
        AutoConfig.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama9"}))
    supported = re.escape(str(["albert", "bart", "bert", "camembert", "clip", "clip_text_model", "clip_vision_model",
                               "deberta-v2", "distilbert", "electra", "gemma", "gemma2",
                               "gemma3_text", "gpt2", "llama", "mistral", "mixtral", "mt5", "phi3", "qwen2", "qwen3",
                               "roberta", "t5", "vit", "whisper", "xlm-roberta"]))
    with pytest.raises(ConfigError, match=r"Unknown model_type 'llama9'.*" + supported):
        AutoConfig.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ConfigError, match="expects 'bert'"):
        BertConfig.from_pretrained(tmp_path)
    with pytest.raises(ConfigError, match="No config.json"):
        BertConfig.from_pretrained(tmp_path / "missing")


def test_json_file_round_trip_and_name_or_path_as_the_reference(tmp_path):
    config = GPT2Config(n_layer=3, name_or_path="org/model", custom_key={"a": 1})
    assert config.to_dict()["_name_or_path"] == "org/model"
    assert GPT2Config.from_dict(config.to_dict()).to_dict() == config.to_dict()
    assert GPT2Config(**config.to_dict()).to_dict() == config.to_dict()
    # The full dump keeps `_name_or_path`; the diff (config.json) leaves it out.
    assert json.loads(config.to_json_string(use_diff=False))["_name_or_path"] == "org/model"
    assert "_name_or_path" not in json.loads(config.to_json_string())
    config.to_json_file(tmp_path / "full.json", use_diff=False)
    full = GPT2Config.from_json_file(tmp_path / "full.json")
    assert full.to_dict() == config.to_dict() and full.name_or_path == "org/model" and full.n_layer == 3
    config.to_json_file(tmp_path / "diff.json")
    diff = GPT2Config.from_json_file(str(tmp_path / "diff.json"))
    assert diff.to_dict() == {**config.to_dict(), "_name_or_path": ""}
    assert set(json.load(open(tmp_path / "diff.json"))) == {"model_type", "n_layer", "custom_key",
                                                            *json.loads(GPT2Config().to_json_string())}
    with pytest.raises(ConfigError, match="model_type 'gpt2'.*BertConfig expects 'bert'"):
        BertConfig.from_json_file(tmp_path / "diff.json")
    with pytest.raises(ConfigError, match="No config file at .*missing.json"):
        BertConfig.from_json_file(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("[1]")
    with pytest.raises(ConfigError, match="must hold a JSON object; found list"):
        BertConfig.from_json_file(tmp_path / "bad.json")
    assert BertConfig.sub_configs == {} and GPT2Config.sub_configs == {} and PretrainedConfig().sub_configs == {}


def test_label2id_values_kept_and_pruned_heads_normalised(tmp_path):
    config = BertConfig(id2label={"0": "neg", "1": "pos"}, label2id={"neg": "0", "pos": "1"})
    assert config.id2label == {0: "neg", 1: "pos"} and config.label2id == {"neg": "0", "pos": "1"}
    config.save_pretrained(tmp_path)
    assert json.load(open(tmp_path / "config.json"))["label2id"] == {"neg": "0", "pos": "1"}
    assert BertConfig.from_pretrained(tmp_path).label2id == {"neg": "0", "pos": "1"}

    pruned = BertConfig(pruned_heads={"1": [2, 0, 2], 0: (1,)})
    assert pruned.pruned_heads == {1: [0, 2], 0: [1]}
    pruned.save_pretrained(tmp_path / "pruned")
    assert json.load(open(tmp_path / "pruned" / "config.json"))["pruned_heads"] == {"1": [0, 2], "0": [1]}
    assert BertConfig.from_pretrained(tmp_path / "pruned").pruned_heads == {1: [0, 2], 0: [1]}
    for bad in ({"first": [0]}, {"-1": [0]}, {0: ["x"]}, {0: 3}, [0, 1]):
        with pytest.raises(ConfigError, match=r"pruned_heads .*received .*Example: pruned_heads=\{0: \[1, 2\]\}"):
            BertConfig(pruned_heads=bad)


def test_a_model_records_where_it_was_loaded_from(tmp_path):
    """The model's `from_pretrained`, not the config's, sets `name_or_path` (as the reference)."""
    import tfmodels

    tfmodels.TFBertModel(BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                    intermediate_size=16)).save_pretrained(tmp_path)
    model = tfmodels.TFBertModel.from_pretrained(tmp_path)
    assert model.config.name_or_path == str(tmp_path) and model.name_or_path == str(tmp_path)
    assert BertConfig.from_pretrained(tmp_path).name_or_path == ""
