"""`PretrainedConfig`: reads and writes Hugging Face `config.json` files."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from typing import Any

from tfmodels.errors import ConfigError

CONFIG_NAME = "config.json"


class PretrainedConfig:
    """Base class of every model configuration, compatible with HF `config.json`.

    Keys the class does not know are kept as attributes and written back, so a config survives a round trip with all
    its keys. Subclasses set `model_type` and may alias attribute names with `attribute_map`.

    Example:
        >>> config = BertConfig(hidden_size=64, num_labels=3)
        >>> config.save_pretrained("out")
        >>> BertConfig.from_pretrained("out").num_labels
        3
    """

    model_type: str = ""
    attribute_map: dict[str, str] = {}
    sub_configs: dict[str, type["PretrainedConfig"]] = {}  # nested configs by attribute (none for BERT, GPT-2)

    def __setattr__(self, key: str, value: Any) -> None:
        key = type(self).attribute_map.get(key, key)
        super().__setattr__(key, value)

    def __getattr__(self, key: str) -> Any:
        # Only called when normal lookup fails: resolve aliases such as GPT-2's `hidden_size` -> `n_embd`.
        attribute_map = type(self).attribute_map
        if key in attribute_map:
            return getattr(self, attribute_map[key])
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{key}'")

    def __init__(self, **kwargs: Any) -> None:
        self.return_dict = kwargs.pop("return_dict", True)
        self.output_hidden_states = kwargs.pop("output_hidden_states", False)
        self.output_attentions = kwargs.pop("output_attentions", False)
        self.torchscript = kwargs.pop("torchscript", False)
        self.use_bfloat16 = kwargs.pop("use_bfloat16", False)
        self.tf_legacy_loss = kwargs.pop("tf_legacy_loss", False)
        self.pruned_heads = _normalise_pruned_heads(kwargs.pop("pruned_heads", None) or {})
        self.tie_word_embeddings = kwargs.pop("tie_word_embeddings", True)
        self.chunk_size_feed_forward = kwargs.pop("chunk_size_feed_forward", 0)
        self.is_encoder_decoder = kwargs.pop("is_encoder_decoder", False)
        self.is_decoder = kwargs.pop("is_decoder", False)
        self.add_cross_attention = kwargs.pop("add_cross_attention", False)
        self.tie_encoder_decoder = kwargs.pop("tie_encoder_decoder", False)
        self.architectures = kwargs.pop("architectures", None)
        self.finetuning_task = kwargs.pop("finetuning_task", None)
        self.tokenizer_class = kwargs.pop("tokenizer_class", None)
        self.prefix = kwargs.pop("prefix", None)
        self.bos_token_id = kwargs.pop("bos_token_id", None)
        self.pad_token_id = kwargs.pop("pad_token_id", None)
        self.eos_token_id = kwargs.pop("eos_token_id", None)
        self.sep_token_id = kwargs.pop("sep_token_id", None)
        self.decoder_start_token_id = kwargs.pop("decoder_start_token_id", None)
        self.task_specific_params = kwargs.pop("task_specific_params", None)
        self.problem_type = kwargs.pop("problem_type", None)
        allowed = ("regression", "single_label_classification", "multi_label_classification")
        if self.problem_type is not None and self.problem_type not in allowed:
            raise ConfigError(f"problem_type must be one of {allowed} or None; received {self.problem_type!r}.")

        id2label = kwargs.pop("id2label", None)
        label2id = kwargs.pop("label2id", None)
        num_labels = kwargs.pop("num_labels", None)
        if id2label is not None:
            try:
                self.id2label = {int(k): v for k, v in dict(id2label).items()}
            except (TypeError, ValueError):
                raise ConfigError(f"id2label must map class indices to label names, e.g. {{0: 'NEGATIVE', 1: "
                                  f"'POSITIVE'}}; received {id2label!r}.") from None
            if num_labels is not None and num_labels != len(self.id2label):
                raise ConfigError(
                    f"num_labels={num_labels} disagrees with id2label, which has {len(self.id2label)} entries; "
                    "pass only one of them."
                )
        else:
            self.num_labels = 2 if num_labels is None else num_labels
        if label2id is not None:
            if not isinstance(label2id, dict):
                raise ConfigError(f"label2id must map label names to class indices; received {label2id!r}.")
            self.label2id = dict(label2id)  # values kept as given, as the reference does
        elif id2label is not None:
            self.label2id = {v: k for k, v in self.id2label.items()}
        self._name_or_path = str(kwargs.pop("name_or_path", kwargs.pop("_name_or_path", "")))

        # Everything else (including keys this library does not know) is kept as an attribute.
        for key, value in kwargs.items():
            try:
                setattr(self, key, value)
            except AttributeError as err:
                raise ConfigError(f"Cannot set config attribute {key}={value!r}: {err}") from err

    # ---- labels -------------------------------------------------------------------------------------------------
    @property
    def num_labels(self) -> int:
        """Number of labels of a classification head; setting it resets `id2label`/`label2id` to defaults."""
        return len(self.id2label)

    @num_labels.setter
    def num_labels(self, num_labels: int) -> None:
        if not isinstance(num_labels, int) or num_labels < 1:
            raise ConfigError(f"num_labels must be a positive integer; received {num_labels!r}.")
        if getattr(self, "id2label", None) is None or len(self.id2label) != num_labels:
            self.id2label = {i: f"LABEL_{i}" for i in range(num_labels)}
            self.label2id = {v: k for k, v in self.id2label.items()}

    @property
    def name_or_path(self) -> str:
        """Where the config was loaded from (a directory, file or Hub id); not written to `config.json`."""
        return self._name_or_path

    @name_or_path.setter
    def name_or_path(self, value: str) -> None:
        self._name_or_path = str(value)

    @property
    def use_return_dict(self) -> bool:
        """Whether models return a `ModelOutput` (`return_dict and not torchscript`)."""
        return self.return_dict and not self.torchscript

    # ---- (de)serialisation --------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """All attributes as a JSON-ready dict (`id2label` keys stay ints; `to_json_string` turns them to str)."""
        output = copy.deepcopy({k: v for k, v in self.__dict__.items() if not k.startswith("__")})
        for key in type(self).sub_configs:  # nested configs (CLIP's towers) as nested dicts
            if isinstance(output.get(key), PretrainedConfig):
                output[key] = output[key].to_dict()
        output["model_type"] = self.model_type
        for key in ("_auto_class", "_commit_hash", "_attn_implementation_internal"):
            output.pop(key, None)
        return output

    def to_diff_dict(self) -> dict[str, Any]:
        """Only the values that differ from `PretrainedConfig()` and from this class's defaults."""
        config_dict = self.to_dict()
        default = PretrainedConfig().to_dict()
        class_default = type(self)().to_dict() if type(self) is not PretrainedConfig else {}
        diff = {}
        for key, value in config_dict.items():
            if (
                key not in default
                or key in ("model_type", "transformers_version")
                or value != default[key]
                or (key in class_default and value != class_default[key])
            ):
                diff[key] = value
        for key in type(self).sub_configs:  # as the reference: each nested config's own difference
            nested = getattr(self, key, None)
            if isinstance(nested, PretrainedConfig):
                # Its type, its own fields, and the shared fields that differ from its class's defaults.
                class_default = type(nested)().to_dict()
                diff[key] = {name: value for name, value in nested.to_dict().items()
                             if name not in default or name == "model_type" or value != class_default.get(name)}
        return diff

    def to_json_string(self, use_diff: bool = True) -> str:
        """JSON text as HF writes it: sorted keys, indent 2, trailing newline, string `id2label` keys."""
        config_dict = self.to_diff_dict() if use_diff else self.to_dict()
        if "id2label" in config_dict:
            config_dict["id2label"] = {str(k): v for k, v in config_dict["id2label"].items()}
        if use_diff:  # as the reference: `_name_or_path` is left out of the diff only
            config_dict.pop("_name_or_path", None)
        return json.dumps(config_dict, indent=2, sort_keys=True) + "\n"

    def to_json_file(self, json_file_path: str | os.PathLike, use_diff: bool = True) -> None:
        """Write `to_json_string(use_diff)` to a file.

        Example:
            >>> BertConfig().to_json_file("config.json")
        """
        with open(json_file_path, "w", encoding="utf-8") as writer:
            writer.write(self.to_json_string(use_diff=use_diff))

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs: Any) -> None:
        """Write `config.json` into `save_directory` (created if needed).

        Example:
            >>> BertConfig().save_pretrained("my-model")
        """
        if kwargs:
            raise TypeError(f"save_pretrained() got unexpected keyword arguments {sorted(kwargs)}")
        if os.path.isfile(save_directory):
            raise ConfigError(f"save_pretrained expects a directory, but {save_directory} is a file.")
        os.makedirs(save_directory, exist_ok=True)
        from tfmodels.checkpoints.atomic import atomic_write_text

        atomic_write_text(os.path.join(save_directory, CONFIG_NAME), self.to_json_string(use_diff=True))

    def push_to_hub(self, repo_id: str, commit_message: str = "Upload config", token: str | bool | None = None,
                    private: bool | None = None, create_pr: bool = False, revision: str | None = None):
        """Upload `config.json` to `repo_id` in one commit (the repo is created if needed).

        Example:
            >>> BertConfig(num_labels=3).push_to_hub("me/my-config")
        """
        import tempfile

        from tfmodels.hub import upload_folder

        with tempfile.TemporaryDirectory() as folder:
            self.save_pretrained(folder)
            return upload_folder(folder, repo_id, commit_message, token=token, private=private,
                                 create_pr=create_pr, revision=revision)

    @classmethod
    def from_dict(
        cls, config_dict: dict[str, Any], return_unused_kwargs: bool = False, **kwargs: Any
    ) -> "PretrainedConfig" | tuple["PretrainedConfig", dict[str, Any]]:
        """Build a config from a dict; `kwargs` naming config attributes override it, the others are returned
        when `return_unused_kwargs=True`.

        Example:
            >>> config, unused = BertConfig.from_dict({"hidden_size": 8}, num_labels=4, foo=1,
            ...                                       return_unused_kwargs=True)
            >>> unused
            {'foo': 1}
        """
        config_dict = dict(config_dict)
        # The stored model_type is the class's own; a mismatch is checked by the auto classes.
        config_dict.pop("model_type", None)
        config = cls(**config_dict)
        unused = {}
        for key, value in kwargs.items():
            resolved = cls.attribute_map.get(key, key)
            if key == "num_labels" or hasattr(config, resolved):
                setattr(config, key, value)
            else:
                unused[key] = value
        return (config, unused) if return_unused_kwargs else config

    @classmethod
    def get_config_dict(cls, pretrained_model_name_or_path: str | os.PathLike, **hub_kwargs: Any) -> dict[str, Any]:
        """Read the raw dict from a `config.json` file, a directory holding one, or a Hub repo id (`hub_kwargs`:
        revision, cache_dir, force_download, local_files_only, token, subfolder)."""
        from tfmodels.hub import HubOptions, fetch_config, is_repo_id

        options = HubOptions(**hub_kwargs)
        path = os.fspath(pretrained_model_name_or_path)
        if is_repo_id(path):
            path = fetch_config(path, options)
        elif options.subfolder:
            path = os.path.join(path, options.subfolder)
        config_file = os.path.join(path, CONFIG_NAME) if os.path.isdir(path) else path
        if not os.path.isfile(config_file):
            raise ConfigError(
                f"No {CONFIG_NAME} found at {path!r}. Pass a directory that holds a {CONFIG_NAME} (as written by "
                "save_pretrained) or the path of a config file."
            )
        return _dict_from_json_file(config_file)

    @classmethod
    def from_json_file(cls, json_file: str | os.PathLike) -> "PretrainedConfig":
        """Build a config from a JSON file of parameters (as written by `to_json_file`).

        Example:
            >>> BertConfig(num_labels=3).to_json_file("config.json")
            >>> BertConfig.from_json_file("config.json").num_labels
            3
        """
        config_dict = _dict_from_json_file(json_file)
        cls._check_model_type(config_dict, json_file)
        return cls.from_dict(config_dict)

    @classmethod
    def _check_model_type(cls, config_dict: dict[str, Any], source: str | os.PathLike) -> None:
        stored_type = config_dict.get("model_type")
        if cls.model_type and stored_type and stored_type != cls.model_type:
            raise ConfigError(
                f"{os.fspath(source)} holds a config of model_type {stored_type!r}, but {cls.__name__} expects "
                f"{cls.model_type!r}. Use AutoConfig or the matching config class."
            )

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path: str | os.PathLike, return_unused_kwargs: bool = False, **kwargs: Any
    ) -> "PretrainedConfig" | tuple["PretrainedConfig", dict[str, Any]]:
        """Load a config from a directory or a `config.json` path, with keyword overrides.

        Example:
            >>> config = BertConfig.from_pretrained("my-model", num_labels=5)
        """
        from tfmodels.hub import HubOptions

        hub_kwargs = dataclasses.asdict(HubOptions.pop_from(kwargs))
        config_dict = cls.get_config_dict(pretrained_model_name_or_path, **hub_kwargs)
        cls._check_model_type(config_dict, pretrained_model_name_or_path)
        # As the reference, the config keeps the `_name_or_path` it was saved with (none, from config.json): a
        # loaded config equals the saved one. A model's `from_pretrained` records where it was loaded from.
        return cls.from_dict(config_dict, return_unused_kwargs=return_unused_kwargs, **kwargs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PretrainedConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string(use_diff=False)}"


def _dict_from_json_file(json_file: str | os.PathLike) -> dict[str, Any]:
    try:
        with open(json_file, encoding="utf-8") as reader:
            config_dict = json.load(reader)
    except FileNotFoundError:
        raise ConfigError(f"No config file at {os.fspath(json_file)!r}; pass the path of a JSON config file.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{os.fspath(json_file)} is not valid JSON: {err}") from None
    if not isinstance(config_dict, dict):
        raise ConfigError(f"{os.fspath(json_file)} must hold a JSON object; found {type(config_dict).__name__}.")
    return config_dict


def _normalise_pruned_heads(pruned_heads: Any) -> dict[int, list[int]]:
    """`{layer: heads}` with int layer keys (JSON stores them as strings) and sorted, unique int heads."""
    def error(received: str) -> ConfigError:
        return ConfigError(f"pruned_heads must map non-negative layer indices (ints, or digit strings as in JSON) to "
                           f"lists of head indices; received {received}. Example: pruned_heads={{0: [1, 2]}}.")

    if not isinstance(pruned_heads, dict):
        raise error(repr(pruned_heads))
    normalised = {}
    for layer, heads in pruned_heads.items():
        try:
            index = int(layer)
            if isinstance(layer, (bool, float)) or index < 0:
                raise ValueError
            normalised[index] = sorted({int(head) for head in heads})
        except (TypeError, ValueError):
            raise error(f"{layer!r}: {heads!r}") from None
    return normalised
