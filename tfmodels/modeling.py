"""`TFPreTrainedModel`: a `keras.Model` with the Hugging Face API (configs, checkpoints, embeddings, heads)."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import logging
import os
import re
import warnings
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfmodels import keras_private
from keras_integration.callbacks import load_training_checkpoint, save_training_checkpoint
from keras_integration.data import prepare_tf_dataset
from keras_integration.training import InternalLossTrainer
from serving.signatures import ServingMixin
from tfmodels.checkpoints.h5_format import read_h5
from tfmodels.checkpoints.loader import LoadingInfo, load_weight_files
from tfmodels.checkpoints.names import strip_model_name
from tfmodels.checkpoints.pytorch_format import read_pytorch_bin
from tfmodels.checkpoints.safetensors_format import read_safetensors
from tfmodels.checkpoints.sharding import convert_file_size_to_int
from tfmodels.checkpoints.writer import (
    LAYOUT_PT_SAFETENSORS,
    LAYOUT_TF_H5,
    LAYOUT_TF_SAFETENSORS,
    checkpoint_tensors,
    holds_pytorch_layout,
    interrupted_save_error,
    save_checkpoint,
)
from tfmodels import config_checks, input_checks, lora
from tfmodels.configuration import CONFIG_NAME, PretrainedConfig
from tfmodels.errors import CheckpointError
from tfmodels.generation import GENERATION_CONFIG_NAME, GenerationConfig, GenerationMixin
from tfmodels.model_state import ModelState
from tfmodels.layers.core import head_mask_5d, initialize_like_fresh, skip_random_init
from tfmodels.resolve import KIND_H5, KIND_PT_BIN, KIND_SAFETENSORS, resolve_local

logger = logging.getLogger(__name__)

_READERS = {KIND_H5: read_h5, KIND_SAFETENSORS: read_safetensors, KIND_PT_BIN: read_pytorch_bin}
_BOOLEAN_FLAGS = {
    "output_attentions": "output_attentions",
    "output_hidden_states": "output_hidden_states",
    "return_dict": "use_return_dict",
    "use_cache": "use_cache",
}


def to_snake_case(name: str) -> str:
    """Keras' automatic layer name of a class: `TFGPT2LMHeadModel` -> `tfgpt2lm_head_model`."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name if not name.startswith("_") else "private" + name  # TF scope names cannot start with "_"


def float32_logits(logits: tf.Tensor) -> tf.Tensor:
    """Logits in float32 whatever the compute dtype (mixed precision), as losses and metrics expect."""
    return logits if logits.dtype == tf.float32 else tf.cast(logits, tf.float32)


def unpack_inputs(call):
    """Decorator for `call` methods: accepts the inputs as keyword arguments, as a dict (or `ModelOutput`) in
    the first argument, or as a list/tuple in signature order; casts int64 inputs to int32; fills unset
    `output_attentions`, `output_hidden_states`, `return_dict` and `use_cache` from the config."""
    signature = inspect.signature(call)
    parameters = [name for name in signature.parameters if name != "self"]
    main_input = parameters[0]

    @functools.wraps(call)
    def wrapper(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as err:
            raise TypeError(f"{type(self).__name__}.call(): {err}. Accepted inputs: {parameters}.") from None
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        arguments.pop("self")
        first = arguments.get(main_input)
        if isinstance(first, Mapping):
            unknown = [key for key in first if key not in parameters]
            if unknown:
                raise ValueError(
                    f"{type(self).__name__} received input(s) {unknown} it does not accept. Accepted inputs: "
                    f"{parameters}. Remove those keys (prepare_tf_dataset drops such columns for you)."
                )
            arguments[main_input] = None
            arguments.update(first)
        elif isinstance(first, (list, tuple)):
            if len(first) > len(parameters):
                raise ValueError(f"{type(self).__name__} received {len(first)} positional inputs; at most "
                                 f"{len(parameters)} are accepted: {parameters}.")
            arguments.update(zip(parameters, first))
        for name, value in arguments.items():
            if isinstance(value, np.ndarray) or tf.is_tensor(value):
                if value.dtype in (np.int64, tf.int64):
                    arguments[name] = tf.cast(value, tf.int32)
        for name, attribute in _BOOLEAN_FLAGS.items():
            if name in arguments and arguments[name] is None:
                arguments[name] = getattr(self.config, attribute, None)
        return call(self, **self.check_inputs(arguments))

    return wrapper


def split_call_flags(args: tuple, kwargs: dict[str, Any]) -> tuple[tuple, dict[str, Any]]:
    """Move Python booleans and `training` out of a dict first argument into keyword arguments, as the reference
    accepted them there, and make its Python lists of ids and masks arrays; Keras 3 allows only tensors
    positionally. Dict entries override keywords of the same name.

    Example:
        >>> split_call_flags(({"input_ids": ids, "return_dict": False},), {})
        (({'input_ids': ids},), {'return_dict': False})
    """
    if not args or not isinstance(args[0], Mapping):
        return args, kwargs
    args = (input_checks.arrays_for_lists(args[0]), *args[1:])
    flags = {key: value for key, value in args[0].items()
             if key == "training" or isinstance(value, (bool, np.bool_))}
    if not flags:
        return args, kwargs
    inputs = {key: value for key, value in args[0].items() if key not in flags}
    return (inputs, *args[1:]), {**kwargs, **flags}


class TFPreTrainedModel(InternalLossTrainer, ServingMixin, GenerationMixin, keras.Model):
    """Base class of every model: a Keras 3 model that reads and writes Hugging Face checkpoints.

    Subclasses set `config_class`, `base_model_prefix` (the name of the main layer, e.g. `bert`) and build their
    layers with explicit names, which are the weight names in every checkpoint format.

    Example:
        >>> model = TFBertForSequenceClassification.from_pretrained("path/to/checkpoint", num_labels=3)
        >>> model.save_pretrained("out", safe_serialization=True)
    """

    config_class: type[PretrainedConfig] | None = None
    base_model_prefix: str = ""
    main_input_name: str = "input_ids"
    _auto_class: str | None = None
    _keys_to_ignore_on_load_missing: list[str] | None = None
    _keys_to_ignore_on_load_unexpected: list[str] | None = None
    weight_table = None  # a `tfmodels.checkpoints.names.WeightTable` (architectures on the kit)

    def __init__(self, config: PretrainedConfig, *inputs: Any, **kwargs: Any) -> None:
        if not isinstance(config, PretrainedConfig):
            raise TypeError(
                f"{type(self).__name__} expects a PretrainedConfig as its first argument; received "
                f"{type(config).__name__}. To load pretrained weights use "
                f"`{type(self).__name__}.from_pretrained(PRETRAINED_MODEL_PATH)`."
            )
        # Field types and the size are checked before any variable exists (an absurd vocab_size would allocate
        # terabytes); `allow_large_model=True` lets a model larger than this machine's memory through.
        allow_large_model = kwargs.pop("allow_large_model", False)
        policy = keras.dtype_policies.get(kwargs["dtype"]) if kwargs.get("dtype") else keras.config.dtype_policy()
        config_checks.check_config(config, tf.as_dtype(policy.variable_dtype).size, allow_large_model)
        kwargs.setdefault("name", to_snake_case(type(self).__name__))
        super().__init__(*inputs, **kwargs)
        self.config = config
        self.name_or_path = config.name_or_path
        self.runtime_state = ModelState()

    # ---- Keras plumbing -----------------------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any):
        """Keras' `__call__`; boolean flags and `training` may also come inside the input dict (`split_call_flags`)."""
        args, kwargs = split_call_flags(args, kwargs)
        return super().__call__(*args, **kwargs)

    def build(self, input_shape=None):
        """Create every variable with explicit shapes, without a forward pass. Subclasses build their layers."""

    def build_in_name_scope(self) -> None:
        """Build the model once; Keras opens its name scope, so every variable path starts with the model name."""
        if not self.built:
            self.build(None)

    def build_from_config(self, config: dict) -> None:
        """Keras hook when loading a `.keras` file: build every variable (shapes come from the HF config)."""
        self.build_in_name_scope()

    def get_config(self) -> dict[str, Any]:
        """Keras config: the model's name, dtype policy and the HF config as a dict (see `from_config`)."""
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
            "config": self.config.to_dict(),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any] | PretrainedConfig, **kwargs: Any) -> "TFPreTrainedModel":
        """Rebuild from `get_config()` output, a plain HF config dict, or a `PretrainedConfig`."""
        if isinstance(config, PretrainedConfig):
            return cls(config, **kwargs)
        config = dict(config)
        if isinstance(config.get("config"), dict):
            hf_config = cls.config_class.from_dict(config.pop("config"))
            dtype = config.pop("dtype", None)
            if dtype is not None:
                config["dtype"] = keras.saving.deserialize_keras_object(dtype)
            return cls(hf_config, **config, **kwargs)
        return cls(cls.config_class.from_dict(config), **kwargs)

    @property
    def framework(self) -> str:
        """`"tf"`, as in the reference."""
        return "tf"

    # ---- inputs -------------------------------------------------------------------------------------------------
    def check_inputs(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """A call's arguments checked at the boundary (see `tfmodels.input_checks`); architectures on the kit
        check dtypes, shapes, token ids and lengths. This base checks nothing."""
        return arguments

    def max_sequence_length(self) -> int | None:
        """The longest input the model's positions cover; None when they set no limit (this base)."""
        return None

    @property
    def input_signature(self) -> dict[str, tf.TensorSpec]:
        """One int32 `TensorSpec` `[batch, length]` per text input of `call` (multiple-choice models override it
        with `[batch, choices, length]`)."""
        parameters = inspect.signature(self.call).parameters
        return {
            name: tf.TensorSpec([None, None], tf.int32, name=name)
            for name in ("input_ids", "attention_mask", "token_type_ids")
            if name in parameters
        }

    @property
    def dummy_inputs(self) -> dict[str, tf.Tensor]:
        """Small inputs matching `input_signature` (batch 1, other dimensions 2; token types are zeros)."""
        return self.make_dummy_inputs()

    def make_dummy_inputs(self, batch_size: int = 1, length: int = 2, num_choices: int = 2) -> dict[str, tf.Tensor]:
        """Inputs matching `input_signature`: `[batch, length]`, or `[batch, choices, length]` for multiple choice;
        ones, token types zeros.

        Example:
            >>> model.make_dummy_inputs(batch_size=3, length=5)["input_ids"].shape
            TensorShape([3, 5])
        """
        dummies = {}
        for name, spec in self.input_signature.items():
            sizes = {2: [batch_size, length], 3: [batch_size, num_choices, length]}[len(spec.shape)]
            shape = [size if dim is None else dim for size, dim in zip(sizes, spec.shape)]
            fill = tf.zeros if name == "token_type_ids" else tf.ones
            dummies[name] = fill(shape, dtype=spec.dtype)
        return dummies

    def after_load(self, unloaded: list[str]) -> None:
        """Called by `from_pretrained` with the weights the checkpoint did not provide (model-name-free keys),
        after they got fresh values: fill copies from the weights they copy (nothing by default)."""

    def ignored_on_load(self) -> tuple[list[str], list[str]]:
        """(missing, unexpected) weight-name patterns that a load does not report."""
        return list(self._keys_to_ignore_on_load_missing or []), list(self._keys_to_ignore_on_load_unexpected or [])

    def h5_layers(self) -> list[keras.layers.Layer]:
        """The layers whose weights the reference's `tf_model.h5` lists as one group each, in order: the model's
        top-level layers (T5, whose backbone adds no scope, lists its `shared`, `encoder` and `decoder`)."""
        return list(self.layers)

    # ---- introspection and embeddings ---------------------------------------------------------------------------
    def num_parameters(self, only_trainable: bool = False) -> int:
        """Number of parameters (tied weights counted once).

        Example:
            >>> model.num_parameters(only_trainable=True)
        """
        variables = self.trainable_weights if only_trainable else self.weights
        unique = {id(v): v for v in variables}.values()
        return int(sum(np.prod(v.shape, dtype=np.int64) for v in unique))

    @property
    def _main_layer(self):
        main = getattr(self, self.base_model_prefix, None) if self.base_model_prefix else None
        return main if main is not None else self

    def get_input_embeddings(self) -> keras.layers.Layer:
        """The word-embedding layer (a `TokenEmbedding`; its `embeddings` variable is `[vocab, hidden]`)."""
        main = self._main_layer
        if main is self:
            raise NotImplementedError(f"{type(self).__name__} does not define get_input_embeddings().")
        return main.get_input_embeddings()

    def set_input_embeddings(self, value) -> None:
        """Replace the word-embedding matrix by `value` (`[vocab, hidden]`); the vocabulary size follows it."""
        self.get_input_embeddings().set_matrix(value)
        self.config.vocab_size = int(np.shape(value)[0])

    def get_lm_head(self) -> keras.layers.Layer | None:
        """The language-modelling head layer, or None for models without one."""
        return None

    def get_output_embeddings(self) -> keras.layers.Layer | None:
        """The layer whose matrix projects hidden states to the vocabulary, or None."""
        lm_head = self.get_lm_head()
        return lm_head.get_output_embeddings() if lm_head is not None else None

    def set_output_embeddings(self, value) -> None:
        """Replace the output projection matrix (tied models share it with the input embeddings)."""
        output = self.get_output_embeddings()
        if output is None:
            raise NotImplementedError(f"{type(self).__name__} has no output embeddings.")
        output.set_matrix(value)

    def get_bias(self) -> dict[str, keras.Variable] | None:
        """The LM head's bias variables by name (`{"bias": ...}`), or None without an LM head."""
        lm_head = self.get_lm_head()
        return lm_head.get_bias() if lm_head is not None else None

    def set_bias(self, value: dict[str, Any]) -> None:
        """Set the LM head's bias from `{"bias": array}`; the vocabulary size follows its last dimension."""
        lm_head = self.get_lm_head()
        if lm_head is None:
            raise NotImplementedError(f"{type(self).__name__} has no LM head bias.")
        lm_head.set_bias(value)
        self.config.vocab_size = int(np.shape(value["bias"])[-1])

    def get_output_layer_with_bias(self) -> keras.layers.Layer | None:
        """Deprecated: use `get_lm_head`."""
        warnings.warn("get_output_layer_with_bias is deprecated; use get_lm_head.", FutureWarning, stacklevel=2)
        return self.get_lm_head()

    def get_prefix_bias_name(self) -> str | None:
        """Deprecated: always None."""
        warnings.warn("get_prefix_bias_name is deprecated; use get_bias.", FutureWarning, stacklevel=2)
        return None

    def get_head_mask(self, head_mask, num_hidden_layers: int) -> list:
        """`[heads]` or `[layers, heads]` mask (1 keeps a head) -> one mask per layer, or Nones."""
        return head_mask_5d(head_mask, num_hidden_layers)

    @classmethod
    def can_generate(cls) -> bool:
        """Whether the model is a decoder with an LM head that can produce tokens."""
        return False

    @classmethod
    def register_for_auto_class(cls, auto_class: str | type = "TFAutoModel") -> None:
        """Record the auto class this custom model registers with (written as `auto_map` in its config).

        Example:
            >>> MyModel.register_for_auto_class("TFAutoModelForSequenceClassification")
        """
        from tfmodels import auto

        name = auto_class if isinstance(auto_class, str) else auto_class.__name__
        if not hasattr(auto, name):
            raise ValueError(f"{name} is not a valid auto class; use one of {auto.AUTO_CLASS_NAMES}.")
        cls._auto_class = name

    def resize_token_embeddings(self, new_num_tokens: int | None = None) -> keras.layers.Layer:
        """Resize the vocabulary: input embeddings, tied output embeddings and the LM-head bias together.

        Existing rows are kept, new rows are initialised like fresh weights (bias rows with zeros), and
        `config.vocab_size` is updated. Returns the input embedding layer.

        Example:
            >>> model.resize_token_embeddings(len(tokenizer))
        """
        embeddings = self.get_input_embeddings()
        if new_num_tokens is None or new_num_tokens == embeddings.input_dim:
            return embeddings
        if not isinstance(new_num_tokens, int) or new_num_tokens < 1:
            raise ValueError(f"new_num_tokens must be a positive integer; received {new_num_tokens!r}.")
        embeddings.resize(new_num_tokens)
        output = self.get_output_embeddings()
        if output is not None and output is not embeddings:
            output.resize(new_num_tokens)
        lm_head = self.get_lm_head()
        if lm_head is not None:
            lm_head.resize_bias(new_num_tokens)
        self.config.vocab_size = new_num_tokens
        return embeddings

    def prune_heads(self, heads_to_prune: dict[int, list[int]]) -> None:
        """Remove attention heads: `{layer index: [head indices]}` (indices of the original, unpruned model).

        The pruned heads are recorded in `config.pruned_heads`, so a saved model reloads pruned.
        """
        main = self._main_layer
        if main is self or not hasattr(main, "prune_heads"):
            raise NotImplementedError(f"{type(self).__name__} does not support head pruning.")
        request = {int(k): [int(h) for h in v] for k, v in heads_to_prune.items()}
        main.prune_heads(request)  # validates layers and heads before changing anything
        for layer, heads in request.items():  # recorded only once done, so a refused request leaves no trace
            self.config.pruned_heads[layer] = sorted(set(self.config.pruned_heads.get(layer, [])) | set(heads))

    # ---- training -----------------------------------------------------------------------------------------------
    def prepare_tf_dataset(self, dataset, batch_size: int = 8, shuffle: bool = True, tokenizer=None,
                           collate_fn=None, collate_fn_args=None, drop_remainder: bool | None = None,
                           prefetch: bool = True, seed: int | None = None,
                           pad_to_multiple_of: int | None = None) -> tf.data.Dataset:
        """A `tf.data.Dataset` for `fit` from a `datasets.Dataset`; see `keras_integration.prepare_tf_dataset`.

        Example:
            >>> train = model.prepare_tf_dataset(tokenized["train"], batch_size=16)
        """
        return prepare_tf_dataset(self, dataset, batch_size=batch_size, shuffle=shuffle, tokenizer=tokenizer,
                                  collate_fn=collate_fn, collate_fn_args=collate_fn_args,
                                  drop_remainder=drop_remainder, prefetch=prefetch, seed=seed,
                                  pad_to_multiple_of=pad_to_multiple_of)

    def save_training_checkpoint(self, directory: str, epoch: int) -> None:
        """Save weights, optimizer state and epoch for `load_repo_checkpoint` (see `TrainingCheckpoint`)."""
        save_training_checkpoint(self, directory, epoch)

    def load_repo_checkpoint(self, repo_path_or_name: str) -> dict[str, int]:
        """Restore a training checkpoint (a directory, or a repo clone holding `checkpoint/`); return
        `{"epoch": n}`, so that `fit(..., initial_epoch=n + 1)` continues the run.

        Example:
            >>> model.compile(optimizer=keras.optimizers.Adam(3e-5))
            >>> epoch = model.load_repo_checkpoint("run/checkpoint")["epoch"]
        """
        directory = os.fspath(repo_path_or_name)
        nested = os.path.join(directory, "checkpoint")
        if os.path.isdir(nested):
            directory = nested
        return load_training_checkpoint(self, directory)

    # ---- LoRA and gradient checkpointing ------------------------------------------------------------------------
    def enable_lora(self, rank: int, target_modules: list[str] | str, alpha: float | None = None,
                    modules_to_save: list[str] | None = None) -> list[str]:
        """Add LoRA adapters (Keras' `Dense.enable_lora`, scale `alpha / rank`) to the projections named by
        `target_modules` (PEFT's names: `["q_proj", "v_proj"]`, `["query", "value"]`, or a regex over the PyTorch
        module path) and freeze every other weight but `modules_to_save`; see `tfmodels.lora`. Returns the adapted
        module paths. After a `fit`, `compile()` again (with a new optimizer) before training the adapters.

        Example:
            >>> model.enable_lora(8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], alpha=16)
        """
        return lora.enable_lora(self, rank, target_modules, alpha=alpha, modules_to_save=modules_to_save)

    def load_adapter(self, adapter_path: str | os.PathLike, **hub_options: Any) -> list[str]:
        """Load a LoRA adapter in PEFT's layout (written by PEFT or by `save_pretrained(..., adapter_only=True)`),
        from a directory or a Hub repo id (`revision`, `cache_dir`, `local_files_only`, `token`, ...), onto this
        base model; returns the adapted module paths.

        Example:
            >>> model = TFAutoModelForCausalLM.from_pretrained("base"); model.load_adapter("org/adapter")
        """
        return lora.load_adapter(self, adapter_path, **hub_options)

    def merge_lora(self) -> list[str]:
        """Fold the LoRA adapters into the base kernels and remove them (a plain model again, for `save_pretrained`
        and the serving export); returns the merged module paths.

        Example:
            >>> model.merge_lora(); model.save_pretrained("merged")
        """
        return lora.merge_lora(self)

    def _transformer_stacks(self) -> list:
        """The model's `TransformerStack`s (none for a model not built from the kit)."""
        from tfmodels.layers.transformer import TransformerStack

        return [layer for layer in keras_private.sublayers(self) if isinstance(layer, TransformerStack)]

    def gradient_checkpointing_enable(self) -> None:
        """Recompute each transformer layer's activations in the backward pass instead of keeping them: less
        memory in `fit`, at the cost of one more forward pass per layer. Applies while training, without a
        key/value cache or attention outputs. Raises NotImplementedError for a model without a `TransformerStack`.

        Example:
            >>> model.gradient_checkpointing_enable(); model.fit(train)
        """
        stacks = self._transformer_stacks()
        if not stacks:
            raise NotImplementedError(f"{type(self).__name__} has no TransformerStack; gradient checkpointing "
                                      "works on the architectures built from the kit (tfmodels.layers.transformer).")
        for stack in stacks:
            stack.gradient_checkpointing = True
        lora.reset_compiled_functions(self)

    def gradient_checkpointing_disable(self) -> None:
        """Keep activations for the backward pass again (the default; nothing to do without a TransformerStack)."""
        for stack in self._transformer_stacks():
            stack.gradient_checkpointing = False
        lora.reset_compiled_functions(self)

    @property
    def is_gradient_checkpointing(self) -> bool:
        """Whether `gradient_checkpointing_enable()` is in effect (False for a model without a TransformerStack)."""
        return any(getattr(stack, "gradient_checkpointing", False) for stack in self._transformer_stacks())

    # ---- Hub ----------------------------------------------------------------------------------------------------
    def create_model_card(self, output_dir: str | os.PathLike, model_name: str, language=None, license=None,
                          tags=None, finetuned_from=None, tasks=None, dataset_tags=None, dataset=None,
                          dataset_args=None, **kwargs: Any) -> str:
        """Write `output_dir/README.md` from this model and its last `fit` history; see
        `keras_integration.model_card.create_model_card`. When `output_dir` holds a save in the PyTorch layout, the
        card's `library_name` is `transformers`, so that the Hub offers transformers' snippet and widget.

        Example:
            >>> model.create_model_card("out", "my-model", license="apache-2.0", dataset_tags="imdb")
        """
        from keras_integration.model_card import create_model_card

        if finetuned_from is None and self.name_or_path and not os.path.isdir(self.name_or_path):
            finetuned_from = self.name_or_path  # a Hub id we started from
        kwargs.setdefault("library_name", "transformers" if holds_pytorch_layout(os.fspath(output_dir)) else "tfmodels")
        return create_model_card(self, output_dir, model_name, language=language, license=license, tags=tags,
                                 finetuned_from=finetuned_from, tasks=tasks, dataset_tags=dataset_tags,
                                 dataset=dataset, dataset_args=dataset_args, **kwargs)

    def upload_folder_to_hub(self, folder: str | os.PathLike, repo_id: str, commit_message: str = "Upload model",
                             token: str | bool | None = None, private: bool | None = None, create_pr: bool = False,
                             revision: str | None = None):
        """Upload a saved folder in one commit (stale remote weight files deleted); see `tfmodels.hub`."""
        from tfmodels.hub import upload_folder

        return upload_folder(os.fspath(folder), repo_id, commit_message, token=token, private=private,
                             create_pr=create_pr, revision=revision)

    def push_to_hub(self, repo_id: str, use_temp_dir: bool | None = None, commit_message: str | None = None,
                    private: bool | None = None, max_shard_size: int | str = "10GB", token: str | bool | None = None,
                    create_pr: bool = False, revision: str | None = None, safe_serialization: bool = True,
                    **model_card_kwargs: Any):
        """Save the model (config, weights, model card) and upload it to `repo_id` in one commit; create the repo
        if needed. Returns the commit info. Model-card arguments (`license`, `dataset_tags`, ...) go to the card.

        The weights go up as safetensors in the PyTorch layout (what transformers, vLLM and the Hub's widgets and
        snippets read); `safe_serialization=False` uploads `tf_model.h5` instead.

        With `use_temp_dir=False` the files are saved in a local directory named after the repo (kept);
        otherwise in a temporary one.

        Example:
            >>> model.push_to_hub("me/bert-imdb", license="apache-2.0", dataset_tags="imdb")
        """
        import tempfile

        name = repo_id.split("/")[-1]

        def save_and_upload(folder: str):
            self.save_pretrained(folder, max_shard_size=max_shard_size, safe_serialization=safe_serialization)
            self.create_model_card(folder, model_card_kwargs.pop("model_name", name), **model_card_kwargs)
            return self.upload_folder_to_hub(folder, repo_id, commit_message or "Upload model", token=token,
                                             private=private, create_pr=create_pr, revision=revision)

        if use_temp_dir is False:
            return save_and_upload(name)
        with tempfile.TemporaryDirectory() as folder:
            return save_and_upload(folder)

    # ---- checkpoints --------------------------------------------------------------------------------------------
    def save_pretrained(
        self,
        save_directory: str | os.PathLike,
        max_shard_size: int | str = "10GB",
        safe_serialization: bool = False,
        saved_model: bool = False,
        version: int = 1,
        signatures=None,
        push_to_hub: bool = False,
        repo_id: str | None = None,
        adapter_only: bool = False,
        weight_names: str | None = None,
        **push_kwargs: Any,
    ):
        """Write `config.json` (and `generation_config.json` for generative models) and the weights, sharded with
        an index above `max_shard_size` (`"5GB"`, `"100MB"`, `"1GiB"` or bytes):

        - `safe_serialization=True`: `model.safetensors` in the PyTorch layout (PyTorch keys and shapes,
          `{"format": "pt"}`, shards `model-0000i-of-0000N.safetensors` + `model.safetensors.index.json`), which
          transformers (PyTorch), vLLM, TGI and the Hub read, and the reference's TF classes read through their
          PyTorch import. `weight_names="tf"` writes the safetensors with TF names instead (`{"format": "tf"}`).
        - otherwise `tf_model.h5` with TF names, as the reference's TF classes write it.

        Weights keep their dtype (bf16 stays bf16); `config.json` records it as `dtype`, and names the PyTorch class
        in `architectures`. A weight the PyTorch class has no name for (a layer added to the model) raises a
        `CheckpointError` before anything is written.

        With `push_to_hub=True` the directory is then uploaded to `repo_id` (default: the directory's name) in one
        commit (`commit_message`, `token`, `private`, `create_pr`, `revision`), and the commit info returned.

        With `saved_model=True` a verified TF Serving export is also written to `save_directory/saved_model/<version>`
        (see `serving.export_saved_model`; `signatures` replace or add to the default ones).

        Re-saving into a directory replaces the previous weights and removes its stale shards and index; other
        files (a tokenizer, a README) are left alone. An error midway leaves the previous checkpoint loadable.

        With `adapter_only=True` a model with LoRA adapters writes only them, in PEFT's layout
        (`adapter_config.json`, `adapter_model.safetensors`; see `tfmodels.lora`). A model with adapters cannot
        be saved whole: `merge_lora()` first.

        Example:
            >>> model.save_pretrained("out", max_shard_size="200MB", safe_serialization=True)  # transformers reads it
        """
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise CheckpointError(f"save_pretrained expects a directory, but {save_directory} is a file.")
        if push_kwargs and not push_to_hub:  # checked before anything is written
            raise TypeError(f"save_pretrained() got unexpected keyword arguments {sorted(push_kwargs)}")
        if saved_model:
            from serving.export import check_version

            check_version(version)
        if adapter_only or lora.has_lora(self):
            if not adapter_only:
                raise ValueError(f"{type(self).__name__} has LoRA adapters: save them with save_pretrained(path, "
                                 "adapter_only=True), or call merge_lora() first to save the merged model.")
            lora.save_adapter(self, save_directory)
            if push_to_hub:
                repo_id = repo_id or os.path.basename(os.path.abspath(save_directory))
                return self.upload_folder_to_hub(save_directory, repo_id, **push_kwargs)
            return None
        layout = _weights_layout(safe_serialization, weight_names)
        max_shard_size = convert_file_size_to_int(max_shard_size)
        tensors = checkpoint_tensors(self, layout)  # a weight without a name in the layout raises here
        os.makedirs(save_directory, exist_ok=True)
        self.config.architectures = [type(self).__name__[2:]]
        if self._auto_class is not None:
            self.config.auto_map = {self._auto_class[2:] if self._auto_class.startswith("TF") else
                                    self._auto_class: f"{type(self).__module__}.{type(self).__name__}"}
        self.config.dtype = weights_dtype(self)
        if hasattr(self.config, "torch_dtype"):  # transformers 5 names it `dtype`; one name, not two that disagree
            del self.config.torch_dtype
        extra_files = {CONFIG_NAME: self.config.to_json_string(use_diff=True)}
        if self.can_generate():
            extra_files[GENERATION_CONFIG_NAME] = self.generation_config.to_json_string()
        save_checkpoint(self, save_directory, max_shard_size, layout, extra_files, tensors)
        logger.info("Model weights saved in %s (%s)", save_directory, layout)
        if saved_model:
            from serving.export import export_saved_model

            export_saved_model(self, os.path.join(save_directory, "saved_model"), version=version,
                               signatures=signatures)
        if push_to_hub:
            repo_id = repo_id or os.path.basename(os.path.abspath(save_directory))
            return self.upload_folder_to_hub(save_directory, repo_id, **push_kwargs)
        return None

    def pytorch_weights(self) -> list:
        """The model's weights as its PyTorch class names and shapes them (`checkpoints.pytorch_layout.PTWeight`s);
        architectures on the kit provide it from their weight table."""
        raise CheckpointError(f"{type(self).__name__} declares no weight table, so its weights have no PyTorch "
                              "names; save it with safe_serialization=False (tf_model.h5) or weight_names='tf'.")

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *model_args: Any,
        config: PretrainedConfig | str | os.PathLike | None = None,
        from_pt: bool = False,
        ignore_mismatched_sizes: bool = False,
        output_loading_info: bool = False,
        use_safetensors: bool | None = None,
        dtype: str | None = None,
        revision: str | None = "main",
        cache_dir: str | os.PathLike | None = None,
        force_download: bool = False,
        local_files_only: bool = False,
        token: str | bool | None = None,
        subfolder: str = "",
        **kwargs: Any,
    ) -> "TFPreTrainedModel" | tuple["TFPreTrainedModel", dict[str, list]]:
        """Load a model from a directory written by `save_pretrained` (ours or the reference's, TF or PyTorch), or
        from a Hub repo id (`"org/name"`, with `revision`, `cache_dir`, `force_download`, `local_files_only`,
        `token`, `subfolder`, `endpoint`), fetching only the files the first available layout needs into the standard Hub
        cache; `HF_HUB_OFFLINE=1` works from that cache.

        Keyword arguments that are config fields override the config (`num_labels=5`); the rest go to the model's
        constructor. Missing, unexpected and mismatched weights are logged as warnings and returned with
        `output_loading_info=True`. `dtype` is a Keras dtype policy for every layer (`"float16"`,
        `"mixed_bfloat16"`, ...), or `"auto"` for the checkpoint's own (its config's `dtype` or `torch_dtype`, as
        transformers writes it); by default the global policy applies. Weights are cast to the variables' dtype one
        tensor at a time: `dtype="bfloat16"` loads a bfloat16 (or float32) checkpoint shard by shard into bfloat16
        variables without a float32 copy, and float16/bfloat16 checkpoints load into float32 models.

        Example:
            >>> model, info = TFBertForSequenceClassification.from_pretrained("bert-dir", num_labels=5,
            ...     ignore_mismatched_sizes=True, output_loading_info=True)
        """
        from tfmodels.hub import HubOptions, is_repo_id, resolve_remote

        hub = HubOptions(revision=revision, cache_dir=cache_dir, force_download=force_download,
                         local_files_only=local_files_only, token=token, subfolder=subfolder,
                         endpoint=kwargs.pop("endpoint", None))
        path = os.fspath(pretrained_model_name_or_path)
        remote = is_repo_id(path)
        local = os.path.join(path, subfolder) if subfolder and not remote else path
        interrupted = interrupted_save_error(local) if os.path.isdir(local) else None
        if interrupted is not None:
            raise interrupted
        if not isinstance(config, PretrainedConfig):
            config_path = os.fspath(config) if config is not None else path
            if os.path.isfile(config_path) and not config_path.endswith(".json"):
                config_path = os.path.dirname(config_path)
            config, model_kwargs = cls.config_class.from_pretrained(
                config_path, return_unused_kwargs=True, **dataclasses.asdict(hub), **kwargs
            )
        else:
            model_kwargs = kwargs
        if remote:
            resolved = resolve_remote(path, hub, from_pt=from_pt, use_safetensors=use_safetensors)
        else:
            resolved = resolve_local(local, from_pt=from_pt, use_safetensors=use_safetensors)
        config.name_or_path = path
        config_checks.check_fields(config)
        config_checks.check_against_checkpoint(config, sum(os.path.getsize(file) for file in resolved.files),
                                               model_kwargs.get("allow_large_model", False))
        if dtype == "auto":
            dtype = checkpoint_dtype(config)
        with skip_random_init(), _global_dtype_policy(dtype):
            model = cls(config, *model_args, **model_kwargs)
            model.build_in_name_scope()
        reader = _READERS[resolved.kind]
        ignore_missing, ignore_unexpected = model.ignored_on_load()
        info = load_weight_files(
            _unique_variables(model.weights),
            [functools.partial(reader, file) for file in resolved.files],
            base_model_prefix=cls.base_model_prefix,
            ignore_mismatched_sizes=ignore_mismatched_sizes,
            ignore_missing=ignore_missing,
            ignore_unexpected=ignore_unexpected,
            pt_renames=model.weight_table.pt_renames if model.weight_table is not None else (),
        )
        _initialize_unloaded(model, info)
        model.after_load(info.missing_keys + info.ignored_missing_keys)
        _log_loading_info(cls.__name__, path, info, cls.base_model_prefix)
        if model.can_generate():
            model.generation_config = _load_generation_config(model.config, local, hub if remote else None)
        if output_loading_info:
            return model, info.as_dict()
        return model


_FLOAT_DTYPES = ("float32", "float16", "bfloat16")


def _weights_layout(safe_serialization: bool, weight_names: str | None) -> str:
    """The checkpoint layout of `save_pretrained`'s arguments."""
    if weight_names not in (None, "pt", "tf"):
        raise ValueError(f"weight_names must be 'pt' (PyTorch names, the default of safetensors) or 'tf'; received "
                         f"{weight_names!r}.")
    if not safe_serialization:
        if weight_names == "pt":
            raise ValueError("weight_names='pt' needs safe_serialization=True: the PyTorch layout is written as "
                             "safetensors (tf_model.h5 always holds TF names).")
        return LAYOUT_TF_H5
    return LAYOUT_TF_SAFETENSORS if weight_names == "tf" else LAYOUT_PT_SAFETENSORS


def weights_dtype(model: keras.Model) -> str:
    """The dtype of a model's floating-point weights as transformers writes it in `config.json` (`"float32"`,
    `"bfloat16"`, ...): the widest one, so a model with a few float32 weights among bf16 ones says `float32`.

    Example:
        >>> weights_dtype(TFLlamaForCausalLM.from_pretrained("llama", dtype="bfloat16"))
        'bfloat16'
    """
    floats = {str(v.dtype) for v in model.weights if str(v.dtype) in _FLOAT_DTYPES}
    return max(floats, key=lambda name: (np.dtype(name).itemsize, name), default="float32")


def checkpoint_dtype(config: PretrainedConfig) -> str | None:
    """The float dtype a config says its checkpoint holds (`dtype`, or the older `torch_dtype`; `torch.` prefix
    allowed), or None when it says none.

    Example:
        >>> checkpoint_dtype(LlamaConfig(torch_dtype="bfloat16"))
        'bfloat16'
    """
    value = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    if value is None:
        return None
    name = str(value).removeprefix("torch.")
    if name not in _FLOAT_DTYPES:
        raise ValueError(f"dtype='auto' reads the checkpoint's dtype from its config, which says {value!r}; "
                         f"pass one of {list(_FLOAT_DTYPES)} as dtype instead.")
    return name


@contextlib.contextmanager
def _global_dtype_policy(dtype: str | None):
    """Apply a Keras dtype policy to every layer created inside (Keras layers read the global policy)."""
    if dtype is None:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _initialize_unloaded(model: TFPreTrainedModel, info) -> None:
    """Draw fresh values for the weights the checkpoint did not provide (they were created as zeros)."""
    unloaded = set(info.missing_keys) | {key for key, _, _ in info.mismatched_keys} | set(info.ignored_missing_keys)
    if not unloaded:
        return
    initializer_range = getattr(model.config, "initializer_range", 0.02)
    for variable in _unique_variables(model.weights):
        if strip_model_name(variable.path) in unloaded:
            initialize_like_fresh(variable, initializer_range)


def _load_generation_config(config: PretrainedConfig, path: str, hub=None) -> GenerationConfig:
    """`generation_config.json` of a local directory or Hub repo, else the model config's generation fields."""
    if hub is not None:
        from tfmodels.hub import fetch_optional

        file = fetch_optional(path, GENERATION_CONFIG_NAME, hub)
    else:
        file = os.path.join(path, GENERATION_CONFIG_NAME) if os.path.isdir(path) else None
    if file is not None and os.path.isfile(file):
        return GenerationConfig.from_pretrained(file)
    return GenerationConfig.from_model_config(config)


def _unique_variables(variables) -> list:
    return list({id(v): v for v in variables}.values())


_SHOWN_FRESH_KEYS = 5


def _log_loading_info(class_name: str, path: str, info: LoadingInfo, base_model_prefix: str = "") -> None:
    """Log what a load did not match, as the reference does, with one more warning: base-model weights (outside
    the task heads) left at their fresh initialisation, which is almost always a bug rather than fine-tuning."""
    scope = base_model_prefix + "/"
    fresh = info.missing_keys + [key for key, _, _ in info.mismatched_keys]
    # The pooler is trained by pre-training tasks only some checkpoints keep (an MLM checkpoint has none): a fresh
    # pooler is reported like a fresh head.
    fresh_base = [key for key in fresh if (not base_model_prefix or key.startswith(scope))
                  and not key.startswith(scope + "pooler/")]
    missing_heads = [key for key in info.missing_keys if key not in fresh_base]
    if info.unexpected_keys:
        logger.warning(
            "Some weights of the checkpoint at %s were not used when initializing %s: %s\n- This IS expected if "
            "you are initializing %s from the checkpoint of a model trained on another task or with another "
            "architecture.\n- This IS NOT expected if the checkpoint's model should be exactly identical.",
            path, class_name, info.unexpected_keys, class_name,
        )
    if fresh_base:
        more = len(fresh_base) - _SHOWN_FRESH_KEYS
        logger.warning(
            "%d weight(s) of the base model of %s (not of a task head) were not loaded from the checkpoint at %s and "
            "keep a fresh random initialisation: %s%s. This is almost always a bug, not fine-tuning: the model will "
            "give wrong outputs. Check that the checkpoint is of this architecture and that its weight names are "
            "the Hugging Face ones (output_loading_info=True lists every missing weight; the unused checkpoint "
            "weights, if any, are logged above).",
            len(fresh_base), class_name, path, fresh_base[:_SHOWN_FRESH_KEYS],
            f" and {more} more" if more > 0 else "",
        )
    if missing_heads:
        logger.warning(
            "Some weights of the task head of %s were not initialized from the checkpoint at %s and are newly "
            "initialized: %s\nYou should probably TRAIN this model on a down-stream task to be able to use it for predictions and "
            "inference.", class_name, path, missing_heads,
        )
    if info.mismatched_keys:
        details = "\n".join(f"- {k}: found shape {a} in the checkpoint and {b} in the model instantiated"
                            for k, a, b in info.mismatched_keys)
        logger.warning(
            "Some weights of %s were not initialized from the checkpoint at %s and are newly initialized because "
            "the shapes did not match:\n%s\nYou should probably TRAIN this model on a down-stream task.",
            class_name, path, details,
        )
    if not (info.unexpected_keys or info.missing_keys or info.mismatched_keys):
        logger.info("All the weights of %s were initialized from the checkpoint at %s.", class_name, path)
