"""`save_pretrained` and `from_pretrained`: a model's directory (config, weights in every layout, generation
config) written and read, with what a load did not match reported. Part of `TFPreTrainedModel`."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
from typing import Any

import keras
import numpy as np

from tfmodels import config_checks, lora
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
    interrupted_save_error,
    save_checkpoint,
)
from tfmodels.configuration import CONFIG_NAME, PretrainedConfig
from tfmodels.errors import CheckpointError
from tfmodels.generation import GENERATION_CONFIG_NAME, GenerationConfig
from tfmodels.layers.core import initialize_like_fresh, skip_random_init
from tfmodels.resolve import KIND_H5, KIND_PT_BIN, KIND_SAFETENSORS, resolve_local

logger = logging.getLogger(__name__)


class PretrainedIO:
    """`TFPreTrainedModel`'s `save_pretrained` and `from_pretrained`."""

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
        extra_files.update(self.side_files())
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
    ) -> keras.Model | tuple[keras.Model, dict[str, list]]:
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
        model.read_side_files(functools.partial(_optional_file, local, hub=hub if remote else None))
        if output_loading_info:
            return model, info.as_dict()
        return model


_READERS = {KIND_H5: read_h5, KIND_SAFETENSORS: read_safetensors, KIND_PT_BIN: read_pytorch_bin}


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


def _initialize_unloaded(model: keras.Model, info) -> None:
    """Draw fresh values for the weights the checkpoint did not provide (they were created as zeros)."""
    unloaded = set(info.missing_keys) | {key for key, _, _ in info.mismatched_keys} | set(info.ignored_missing_keys)
    if not unloaded:
        return
    initializer_range = getattr(model.config, "initializer_range", 0.02)
    for variable in _unique_variables(model.weights):
        if strip_model_name(variable.path) in unloaded:
            initialize_like_fresh(variable, initializer_range)


def _optional_file(path: str, name: str, hub=None) -> str | None:
    """The local path of file `name` of a checkpoint directory or Hub repo, or None when it has none."""
    if hub is not None:
        from tfmodels.hub import fetch_optional

        file = fetch_optional(path, name, hub)
    else:
        file = os.path.join(path, name) if os.path.isdir(path) else None
    return file if file is not None and os.path.isfile(file) else None


def _load_generation_config(config: PretrainedConfig, path: str, hub=None) -> GenerationConfig:
    """`generation_config.json` of a local directory or Hub repo, else the model config's generation fields."""
    file = _optional_file(path, GENERATION_CONFIG_NAME, hub)
    if file is not None:
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
