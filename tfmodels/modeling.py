"""`TFPreTrainedModel`: a `keras.Model` with the Hugging Face API, composed of one part per concern:

- Keras plumbing, inputs and the hooks architectures fill (here);
- `call_inputs`: how a `call` takes its inputs (`unpack_inputs`, `split_call_flags`, `float32_logits`);
- `surgery.ModelSurgery`: embeddings, LM-head bias, head pruning;
- `training_glue.TrainingGlue`: datasets, training checkpoints, LoRA, gradient checkpointing;
- `hub.HubMixin`: model cards and uploads;
- `save_load.PretrainedIO`: `save_pretrained` and `from_pretrained`;
- `keras_integration.training.InternalLossTrainer` (fit on the model's loss), `serving.signatures.ServingMixin`
  (exports) and `generation.GenerationMixin` (`generate`).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from keras_integration.training import InternalLossTrainer
from serving.signatures import ServingMixin
from tfmodels import config_checks
from tfmodels.call_inputs import float32_logits, split_call_flags, unpack_inputs  # noqa: F401  (public here too)
from tfmodels.configuration import PretrainedConfig
from tfmodels.generation import GenerationMixin
from tfmodels.hub import HubMixin
from tfmodels.model_state import ModelState
from tfmodels.save_load import PretrainedIO
from tfmodels.surgery import ModelSurgery
from tfmodels.training_glue import TrainingGlue


def to_snake_case(name: str) -> str:
    """Keras' automatic layer name of a class: `TFGPT2LMHeadModel` -> `tfgpt2lm_head_model`."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name if not name.startswith("_") else "private" + name  # TF scope names cannot start with "_"


class TFPreTrainedModel(PretrainedIO, HubMixin, TrainingGlue, ModelSurgery, InternalLossTrainer, ServingMixin,
                        GenerationMixin, keras.Model):
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

    @property
    def _default_save_signature(self):
        """None: no signature guessed from the build shapes (see `keras_private.PRIVATE_APIS`); exports carry the
        model's serving signatures."""
        return None

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

    def side_files(self) -> dict[str, str]:
        """Files `save_pretrained` writes beside `config.json`, `{file name: text}`: none here (image models write
        their `preprocessor_config.json`)."""
        return {}

    def read_side_files(self, find: Callable[[str], str | None]) -> None:
        """Called by `from_pretrained` with `find(file name)`, the file's local path or None when the checkpoint
        has none: nothing to read here (image models read their `preprocessor_config.json`)."""

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

    # ---- what subclasses and the auto classes use --------------------------------------------------------------
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
