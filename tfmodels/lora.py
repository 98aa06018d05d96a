"""LoRA adapters in PEFT's format, on Keras' own `Dense.enable_lora`.

A projection is named by its PyTorch module path (`model.layers.0.self_attn.q_proj`,
`bert.encoder.layer.0.attention.self.query`), derived from its weight name through the architecture's weight table
(`tf_to_pt_name`), so `target_modules` and the saved keys are exactly PEFT's:

- `enable_lora(model, rank, target_modules, alpha)`: adapters (`lora_kernel_a` `[in, r]`, `lora_kernel_b`
  `[r, out]`, scaled by `alpha / r` as in PEFT) on every matching `Dense`; only the adapters (and
  `modules_to_save`) stay trainable.
- `save_adapter(model, directory)`: `adapter_config.json` + `adapter_model.safetensors` with PEFT's keys
  (`base_model.model.<module>.lora_A.weight` `[r, in]`, `.lora_B.weight` `[out, r]`).
- `load_adapter(model, directory)`: the reverse, for adapters PEFT wrote (also `adapter_model.bin`).
- `merge_lora(model)`: fold the adapters into the kernels and remove them, leaving a plain model.

Example:
    >>> model.enable_lora(8, target_modules=["q_proj", "v_proj"], alpha=16)
    >>> model.fit(train, epochs=1)
    >>> model.save_pretrained("adapter", adapter_only=True)   # PEFT's layout
    >>> model.merge_lora()                                    # then save_pretrained / export a plain model
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from collections.abc import Sequence

import keras
import numpy as np

from tfmodels import keras_private
from tfmodels.checkpoints.names import (pt_to_tf_array, same_up_to_unit_dims, strip_model_name, tf_to_pt_array,
                                        tf_to_pt_name)
from tfmodels.checkpoints.pytorch_format import read_pytorch_bin
from tfmodels.checkpoints.safetensors_format import read_safetensors, write_safetensors
from tfmodels.errors import CheckpointError
from tfmodels.layers.core import Conv1D
from tfmodels.layers.embeddings import remove_variable

logger = logging.getLogger(__name__)

ADAPTER_CONFIG_NAME = "adapter_config.json"
ADAPTER_WEIGHTS_NAME = "adapter_model.safetensors"
ADAPTER_PT_WEIGHTS_NAME = "adapter_model.bin"
PEFT_PREFIX = "base_model.model."
# PEFT's task types, by the end of our class names (the longest suffix first).
_TASK_TYPES = (("ForCausalLM", "CAUSAL_LM"), ("LMHeadModel", "CAUSAL_LM"),
               ("ForConditionalGeneration", "SEQ_2_SEQ_LM"), ("ForSequenceClassification", "SEQ_CLS"),
               ("ForTokenClassification", "TOKEN_CLS"), ("ForQuestionAnswering", "QUESTION_ANS"),
               ("Model", "FEATURE_EXTRACTION"))
# Heads PEFT trains and saves in full for a SEQ_CLS task (its `modules_to_save` default).
_SEQ_CLS_HEADS = ("classifier", "score")
# PEFT options that change the adapter's math, which Keras' LoRA does not have.
_UNSUPPORTED = {"use_dora": False, "use_rslora": False, "lora_bias": False, "bias": "none"}


@dataclasses.dataclass
class _LoraState:
    """What `enable_lora`/`load_adapter` did to a model: the targets as given (for `adapter_config.json`), the
    full-weight modules, and `(variable, trainable)` for every variable whose `trainable` flag they changed, with
    the flag it had before (restored by `merge_lora`)."""

    target_modules: list[str] | str
    modules_to_save: list[str]
    trainable: list = dataclasses.field(default_factory=list)
    base_model_name_or_path: str | None = None

    def set_trainable(self, variable, trainable: bool) -> None:
        """Set `variable.trainable`, recording its first flag."""
        if variable.trainable != trainable:
            self.record(variable, variable.trainable)
            variable.trainable = trainable

    def record(self, variable, trainable: bool) -> None:
        if not any(known is variable for known, _ in self.trainable):
            self.trainable.append((variable, trainable))


def _state(model) -> _LoraState | None:
    return model.runtime_state.lora


def projection_modules(model: keras.Model) -> dict[str, keras.layers.Layer]:
    """Every projection of `model` (Keras `Dense`, GPT-2's `Conv1D`) by its PyTorch module path.

    Example:
        >>> list(projection_modules(bert))[:2]
        ['encoder.layer.0.attention.self.query', 'encoder.layer.0.attention.self.key']
    """
    modules = {}
    for layer in keras_private.sublayers(model):
        if isinstance(layer, keras.layers.Dense):
            kernel = layer._kernel
        elif isinstance(layer, Conv1D):
            kernel = layer.weight
        else:
            continue
        modules.setdefault(_pt_module(model, kernel.path), layer)
    return modules


def _pt_module(model, path: str) -> str:
    """The PyTorch module path of the layer owning the variable at `path` (`.../query/kernel` -> `...query`)."""
    renames = model.weight_table.pt_renames if getattr(model, "weight_table", None) is not None else ()
    pt_key, _ = tf_to_pt_name(strip_model_name(path), 2, renames)
    module = pt_key.rsplit(".", 1)[0]
    prefix = model.base_model_prefix + "."
    if getattr(model, "bare_backbone", False) and module.startswith(prefix):  # PyTorch's bare models have no prefix
        module = module[len(prefix):]
    return module


def _matches(module: str, targets: Sequence[str] | str) -> bool:
    """PEFT's rule: a string is a regex the whole module path must match; a list names modules by their last
    components (`q_proj` matches `model.layers.0.self_attn.q_proj`)."""
    if isinstance(targets, str):
        return re.fullmatch(targets, module) is not None
    return any(module == target or module.endswith("." + target) for target in targets)


def _lora_layers(model) -> dict[str, keras.layers.Dense]:
    return {name: layer for name, layer in projection_modules(model).items()
            if isinstance(layer, keras.layers.Dense) and layer.lora_enabled}


def _short_names(modules) -> list[str]:
    return sorted({name.rsplit(".", 1)[-1] for name in modules})


def reset_compiled_functions(model: keras.Model) -> None:
    """Drop traced functions that captured the previous set of variables (Keras' train/test/predict functions,
    `generate`'s graphs, `tf.function` methods such as `serving`); they retrace on the next call."""
    model.train_function = model.test_function = model.predict_function = None
    model.runtime_state.reset()
    for klass in type(model).__mro__:
        for value in vars(klass).values():
            bound = getattr(value, "_descriptor_cache", None)  # a tf.function method's per-instance functions
            if bound is not None:
                bound.pop(model, None)


def _warn_if_optimizer_built(model) -> None:
    """A built optimizer holds state for the trainable weights it saw; Keras' next `fit` refuses new ones."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and optimizer.built:
        logger.warning(
            f"Adding LoRA adapters changed which weights of {type(model).__name__} train, but its optimizer was "
            "already built (by fit) for the previous ones: call compile() again, with a new optimizer, before the "
            "next fit(), or Keras refuses the new weights as unknown variables."
        )


def _module_variables(model, modules: Sequence[str]) -> list:
    """The variables of the modules named `modules` (PEFT's `modules_to_save` rule: a module path or its last
    components), e.g. `classifier` -> `classifier/kernel`, `classifier/bias`."""
    found = []
    for variable in model.weights:
        if variable.path.endswith(("/lora_kernel_a", "/lora_kernel_b")):
            continue
        parts = _pt_module(model, variable.path).split(".")
        ancestors = [".".join(parts[:i]) for i in range(len(parts), 0, -1)]
        if any(_matches(module, list(modules)) for module in ancestors):
            found.append(variable)
    return found


def task_type(model) -> str | None:
    """PEFT's `task_type` for the class of `model` (`TFLlamaForCausalLM` -> `CAUSAL_LM`), or None."""
    name = type(model).__name__
    return next((task for suffix, task in _TASK_TYPES if name.endswith(suffix)), None)


def enable_lora(model: keras.Model, rank: int, target_modules: Sequence[str] | str, alpha: float | None = None,
                modules_to_save: Sequence[str] | None = None) -> list[str]:
    """Add LoRA adapters of `rank` to the projections matching `target_modules` (PEFT's rule: a list of module
    names, matched on the last components of the PyTorch module path, or a regex over the whole path); scale
    `alpha / rank` (`alpha` defaults to `rank`). Every other weight is frozen, except those of `modules_to_save`
    (trained and saved in full; default for sequence classifiers: their `classifier`/`score` head, as PEFT).
    Returns the adapted module paths. Everything is checked before the model changes. After a `fit`, call
    `compile()` again (with a new optimizer): the built optimizer only knows the weights that trained before
    (a warning says so).

    Example:
        >>> enable_lora(model, 8, ["q_proj", "v_proj"], alpha=16)
        ['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.v_proj', ...]
    """
    if not isinstance(rank, (int, np.integer)) or isinstance(rank, bool) or rank < 1:
        raise ValueError(f"rank must be a positive integer; received {rank!r}.")
    if not target_modules:
        raise ValueError("target_modules is empty; name the projections to adapt, e.g. ['q_proj', 'v_proj'].")
    if not isinstance(target_modules, str):
        target_modules = list(target_modules)
    modules = projection_modules(model)
    matched = {name: layer for name, layer in modules.items() if _matches(name, target_modules)}
    if not matched:
        raise ValueError(
            f"No projection of {type(model).__name__} matches target_modules={target_modules!r}. Its projections "
            f"are named {_short_names(modules)} (full paths like {next(iter(modules), '?')!r})."
        )
    conv = sorted(name for name, layer in matched.items() if not isinstance(layer, keras.layers.Dense))
    if conv:
        raise ValueError(
            f"LoRA works on Keras Dense projections; {conv[:3]} {'are' if len(conv) > 1 else 'is'} GPT-2's fused "
            "Conv1D, which Keras' enable_lora does not support. Target the Dense projections of an architecture "
            "with separate q/k/v (BERT's query/value, Llama's q_proj/v_proj, ...)."
        )
    enabled = sorted(name for name, layer in matched.items() if layer.lora_enabled)
    if enabled:
        raise ValueError(f"LoRA is already enabled on {enabled[:3]}; call merge_lora() before adding new adapters.")
    unfit = sorted(name for name, layer in matched.items() if not layer.built or layer.kernel_constraint)
    if unfit:
        raise ValueError(f"Keras' enable_lora needs built Dense layers without a kernel_constraint; {unfit[:3]} "
                         "are not. Build the model (call it once) and remove the constraint first.")
    if modules_to_save is None:
        modules_to_save = [m for m in _SEQ_CLS_HEADS
                           if task_type(model) == "SEQ_CLS" and _module_variables(model, [m])]
    saved_variables = _module_variables(model, list(modules_to_save))
    if modules_to_save and not saved_variables:
        raise ValueError(f"No module of {type(model).__name__} matches modules_to_save={list(modules_to_save)!r}.")
    kernels = []
    try:
        for layer in matched.values():
            kernels.append((layer._kernel, layer._kernel.trainable))  # Keras' enable_lora freezes the kernel
            layer.enable_lora(int(rank), lora_alpha=alpha if alpha is not None else int(rank))
    finally:  # whatever happened, record it (merge_lora undoes it)
        _activate(model, target_modules, list(modules_to_save), saved_variables, kernels)
    return sorted(matched)


def _activate(model, target_modules, modules_to_save: list[str], saved_variables: list, kernels: list) -> None:
    """Record the adapters in the model's LoRA state (with the `trainable` flags of the `(kernel, flag)` pairs
    `kernels` before Keras froze them) and freeze everything but the adapters and `saved_variables`."""
    if not _lora_layers(model):
        return
    _warn_if_optimizer_built(model)
    state = _state(model)
    if state is None:
        state = _LoraState(target_modules, [], base_model_name_or_path=getattr(model, "name_or_path", None) or None)
        model.runtime_state.lora = state
    elif state.target_modules != target_modules:  # several calls: the exact module paths, which PEFT also reads
        state.target_modules = sorted(_lora_layers(model))
    state.modules_to_save = sorted(set(state.modules_to_save) | set(modules_to_save))
    for kernel, trainable in kernels:
        state.record(kernel, trainable)
    keep = {id(v) for layer in _lora_layers(model).values() for v in (layer.lora_kernel_a, layer.lora_kernel_b)}
    keep |= {id(v) for v in [*saved_variables, *_module_variables(model, state.modules_to_save)]}
    for variable in model.weights:
        state.set_trainable(variable, id(variable) in keep)
    reset_compiled_functions(model)


def _config_dict(model, state: _LoraState, layers: dict[str, keras.layers.Dense]) -> dict:
    ranks = {name: int(layer.lora_rank) for name, layer in layers.items()}
    alphas = {name: layer.lora_alpha for name, layer in layers.items()}
    rank = max(set(ranks.values()), key=list(ranks.values()).count)
    alpha = max(set(alphas.values()), key=list(alphas.values()).count)
    target_modules = state.target_modules
    return {
        "peft_type": "LORA",
        "task_type": task_type(model),
        "base_model_name_or_path": state.base_model_name_or_path,
        "revision": None,
        "r": rank,
        "lora_alpha": alpha,
        "lora_dropout": 0.0,
        "target_modules": target_modules if isinstance(target_modules, str) else sorted(target_modules),
        "modules_to_save": state.modules_to_save or None,
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_lora_weights": True,
        "use_rslora": False,
        "use_dora": False,
        "rank_pattern": {name: r for name, r in ranks.items() if r != rank},
        "alpha_pattern": {name: a for name, a in alphas.items() if a != alpha},
        "layers_to_transform": None,
        "layers_pattern": None,
    }


def save_adapter(model: keras.Model, directory: str | os.PathLike) -> list[str]:
    """Write the model's adapters in PEFT's layout: `adapter_config.json` and `adapter_model.safetensors`
    (`base_model.model.<module>.lora_A.weight` `[r, in]`, `lora_B.weight` `[out, r]`, and the full weights of
    `modules_to_save` under their PyTorch keys; all float32, PEFT's default, whatever the dtype policy). Returns
    the file names.

    Example:
        >>> save_adapter(model, "adapter")  # PeftModel.from_pretrained(base, "adapter") reads it
        ['adapter_config.json', 'adapter_model.safetensors']
    """
    state, layers = _state(model), _lora_layers(model)
    if state is None or not layers:
        raise ValueError(f"{type(model).__name__} has no LoRA adapters to save; call enable_lora() or "
                         "load_adapter() first (or save_pretrained() without adapter_only for the whole model).")
    def float32(variable) -> np.ndarray:
        return np.asarray(variable.value).astype(np.float32)

    tensors = {}
    for name, layer in sorted(layers.items()):
        tensors[f"{PEFT_PREFIX}{name}.lora_A.weight"] = np.ascontiguousarray(float32(layer.lora_kernel_a).T)
        tensors[f"{PEFT_PREFIX}{name}.lora_B.weight"] = np.ascontiguousarray(float32(layer.lora_kernel_b).T)
    renames = model.weight_table.pt_renames if getattr(model, "weight_table", None) is not None else ()
    for variable in _module_variables(model, state.modules_to_save):
        pt_key, transpose = tf_to_pt_name(strip_model_name(variable.path), len(variable.shape), renames)
        module = _pt_module(model, variable.path)
        pt_key = module + pt_key[pt_key.rfind("."):]
        tensors[PEFT_PREFIX + pt_key] = np.ascontiguousarray(tf_to_pt_array(float32(variable), transpose))
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    write_safetensors(os.path.join(directory, ADAPTER_WEIGHTS_NAME), tensors, {"format": "pt"})
    with open(os.path.join(directory, ADAPTER_CONFIG_NAME), "w", encoding="utf-8") as handle:
        json.dump(_config_dict(model, state, layers), handle, indent=2, sort_keys=True)
        handle.write("\n")
    return [ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME]


def _read_adapter(directory: str) -> tuple[dict, dict[str, np.ndarray]]:
    config_path = os.path.join(directory, ADAPTER_CONFIG_NAME)
    if not os.path.isfile(config_path):
        raise CheckpointError(f"{directory} holds no {ADAPTER_CONFIG_NAME}: it is not a PEFT adapter directory "
                              "(save one with save_pretrained(..., adapter_only=True) or PEFT's save_pretrained).")
    with open(config_path, encoding="utf-8") as handle:
        try:
            config = json.load(handle)
        except json.JSONDecodeError as err:
            raise CheckpointError(f"{config_path} is not valid JSON: {err}.") from None
    for name in (ADAPTER_WEIGHTS_NAME, ADAPTER_PT_WEIGHTS_NAME):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            weights = (read_safetensors if name == ADAPTER_WEIGHTS_NAME else read_pytorch_bin)(path)
            try:
                return config, {key: np.asarray(lazy.load()) for key, lazy in weights.tensors.items()}
            finally:
                weights.close()
    raise CheckpointError(f"{directory} has {ADAPTER_CONFIG_NAME} but no {ADAPTER_WEIGHTS_NAME} or "
                          f"{ADAPTER_PT_WEIGHTS_NAME}.")


def _check_adapter_config(config: dict, directory: str) -> None:
    """The types of the `adapter_config.json` fields this loader reads, checked before the model changes."""
    def number(value, positive: bool = True) -> bool:
        return not isinstance(value, bool) and isinstance(value, (int, float)) and (value > 0 if positive else True)

    def names(value) -> bool:
        return isinstance(value, str) or isinstance(value, list) and all(isinstance(item, str) for item in value)

    checks = {
        "r": (lambda v: number(v) and float(v).is_integer(), "a positive integer"),
        "lora_alpha": (number, "a positive number"),
        "lora_dropout": (lambda v: number(v, positive=False) and 0 <= v <= 1, "a number from 0 to 1"),
        "target_modules": (names, "a module name or a list of them"),
        "modules_to_save": (lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
                            "a list of module names"),
        "rank_pattern": (lambda v: isinstance(v, dict) and all(number(i) for i in v.values()),
                         "a mapping of module patterns to ranks"),
        "alpha_pattern": (lambda v: isinstance(v, dict) and all(number(i) for i in v.values()),
                          "a mapping of module patterns to alphas"),
        "peft_type": (lambda v: isinstance(v, str), "a string such as 'LORA'"),
    }
    for field, (valid, expected) in checks.items():
        value = config.get(field)
        if value is not None and not valid(value):
            raise CheckpointError(f"{ADAPTER_CONFIG_NAME} in {directory}: {field} must be {expected}; received "
                                  f"{value!r}. Fix the file, or save the adapter again with PEFT or tfmodels.")


def _pattern_value(patterns: dict, module: str, default):
    """PEFT's `rank_pattern`/`alpha_pattern`: the value of the first key matching the end of the module path."""
    for key, value in (patterns or {}).items():
        if re.match(rf"(.*\.)?{key}$", module):
            return value
    return default


def _adapter_directory(path: str, hub_options: dict) -> str:
    """`path` itself, or for a Hub repo id the cache folder holding its adapter files (downloaded if needed)."""
    from tfmodels.hub import HubOptions, fetch, is_repo_id

    if not is_repo_id(path):
        return path
    options = HubOptions(**hub_options)
    config = fetch(path, ADAPTER_CONFIG_NAME, options)
    if config is None:
        raise CheckpointError(f"The Hub repo {path!r} has no {ADAPTER_CONFIG_NAME}: it is not a PEFT adapter.")
    for name in (ADAPTER_WEIGHTS_NAME, ADAPTER_PT_WEIGHTS_NAME):
        if fetch(path, name, options) is not None:
            break
    return os.path.dirname(config)


def load_adapter(model: keras.Model, path: str | os.PathLike, **hub_options) -> list[str]:
    """Read a PEFT LoRA adapter (`adapter_config.json` + `adapter_model.safetensors` or `.bin`) from a directory or
    a Hub repo id (`revision`, `cache_dir`, `local_files_only`, `token`, `subfolder`, `endpoint` as in
    `from_pretrained`), enable LoRA on the modules it lists with its ranks and `lora_alpha`, and load its matrices
    (and its `modules_to_save` weights). Only the adapters stay trainable. Returns the adapted module paths.

    Raises `CheckpointError` when the adapter does not fit the model (a module it does not have, other shapes) or
    uses what Keras' LoRA lacks (DoRA, rsLoRA, trained biases, embedding adapters); everything is checked before
    the model changes.

    Example:
        >>> load_adapter(model, "path/to/peft_adapter")
    """
    directory = _adapter_directory(os.fspath(path), hub_options)
    config, tensors = _read_adapter(directory)
    _check_adapter_config(config, directory)
    if config.get("peft_type", "LORA") != "LORA":
        raise CheckpointError(f"The adapter in {directory} is a {config.get('peft_type')} adapter; only LoRA "
                              "adapters (peft_type LORA) load into tfmodels.")
    for option, supported in _UNSUPPORTED.items():
        if config.get(option, supported) not in (supported, None):
            raise CheckpointError(f"The adapter in {directory} uses {option}={config[option]!r}, which Keras' "
                                  f"LoRA cannot compute; only {option}={supported!r} adapters load.")
    modules = projection_modules(model)
    prefix = model.base_model_prefix + "."

    def find(module: str) -> str | None:
        for candidate in (module, module[len(prefix):] if module.startswith(prefix) else prefix + module):
            if candidate in modules:
                return candidate
        return None

    pairs: dict[str, dict[str, np.ndarray]] = {}
    full: dict[str, np.ndarray] = {}
    for key, array in tensors.items():
        if not key.startswith(PEFT_PREFIX):
            raise CheckpointError(f"Adapter tensor {key!r} in {directory} does not start with {PEFT_PREFIX!r}; "
                                  "this is not a PEFT LoRA adapter of a transformers model.")
        name = key[len(PEFT_PREFIX):]
        match = re.fullmatch(r"(.+)\.(lora_[AB])(?:\.[\w-]+)?\.weight", name)
        if match:
            pairs.setdefault(match.group(1), {})[match.group(2)] = array
        elif ".lora_" in name:
            raise CheckpointError(f"Adapter tensor {key!r} in {directory} is not a lora_A/lora_B matrix of a "
                                  "linear layer (embedding and convolution adapters are not supported).")
        else:
            full[name] = array
    if not pairs:
        raise CheckpointError(f"The adapter in {directory} holds no lora_A/lora_B tensors.")
    unknown = sorted(m for m in pairs if find(m) is None)
    if unknown:
        raise CheckpointError(
            f"The adapter in {directory} adapts {unknown[:3]}{' ...' if len(unknown) > 3 else ''}, which "
            f"{type(model).__name__} does not have: it was trained on another base model (its base: "
            f"{config.get('base_model_name_or_path')!r}). This model's projections are named {_short_names(modules)}."
        )
    targets = {}
    for module, pair in sorted(pairs.items()):
        if set(pair) != {"lora_A", "lora_B"}:
            raise CheckpointError(f"The adapter in {directory} has {sorted(pair)} but not both lora_A and lora_B "
                                  f"for {module!r}.")
        layer = modules[find(module)]
        if not isinstance(layer, keras.layers.Dense):
            raise CheckpointError(f"The adapter in {directory} adapts {module!r}, GPT-2's fused Conv1D, which Keras' "
                                  "enable_lora does not support.")
        a, b = pair["lora_A"], pair["lora_B"]
        rank = a.shape[0]
        expected_a, expected_b = (rank, layer._kernel.shape[0]), (layer._kernel.shape[1], rank)
        if a.ndim != 2 or b.ndim != 2 or tuple(a.shape) != expected_a or tuple(b.shape) != expected_b:
            raise CheckpointError(
                f"The adapter in {directory} does not fit {module!r}: lora_A {tuple(a.shape)} and lora_B "
                f"{tuple(b.shape)}, where the model's projection ({layer._kernel.shape[0]} -> "
                f"{layer._kernel.shape[1]}) needs {expected_a} and {expected_b}. Is it for another model size?"
            )
        configured = _pattern_value(config.get("rank_pattern"), module, config.get("r", rank))
        if configured != rank:
            raise CheckpointError(f"{ADAPTER_CONFIG_NAME} in {directory} gives {module!r} rank {configured}, but its "
                                  f"lora_A has rank {rank}.")
        alpha = _pattern_value(config.get("alpha_pattern"), module, config.get("lora_alpha", rank))
        if layer.lora_enabled and (layer.lora_rank != rank or layer.lora_alpha != alpha):
            raise CheckpointError(f"{module!r} already has a LoRA adapter of rank {layer.lora_rank}; call "
                                  "merge_lora() before loading an adapter of another rank or alpha.")
        targets[module] = (layer, a, b, alpha)
    full_weights = _full_weights(model, full, directory)
    target_modules = config.get("target_modules") or sorted({m.rsplit(".", 1)[-1] for m in targets})
    kernels = []
    try:
        for layer, a, b, alpha in targets.values():
            if not layer.lora_enabled:
                kernels.append((layer._kernel, layer._kernel.trainable))
                layer.enable_lora(int(a.shape[0]), lora_alpha=alpha)
            layer.lora_kernel_a.assign(a.T.astype(np.float32))
            layer.lora_kernel_b.assign(b.T.astype(np.float32))
        for variable, value in full_weights:
            variable.assign(value)
    finally:  # whatever happened, record it (merge_lora undoes it)
        _activate(model, target_modules, list(config.get("modules_to_save") or []),
                  [variable for variable, _ in full_weights], kernels)
    state = _state(model)
    state.base_model_name_or_path = config.get("base_model_name_or_path") or state.base_model_name_or_path
    return sorted(find(m) for m in targets)


def _full_weights(model, full: dict[str, np.ndarray], directory: str) -> list[tuple]:
    """`(variable, value)` for each of an adapter's `modules_to_save` tensors (PyTorch keys and layout), the value
    in the variable's layout and dtype; raises `CheckpointError` for a tensor the model has no place for."""
    if not full:
        return []
    renames = model.weight_table.pt_renames if getattr(model, "weight_table", None) is not None else ()
    by_key = {}
    for variable in model.weights:
        pt_key, transpose = tf_to_pt_name(strip_model_name(variable.path), len(variable.shape), renames)
        module = _pt_module(model, variable.path)
        by_key[module + pt_key[pt_key.rfind("."):]] = (variable, transpose)
    prefix = model.base_model_prefix + "."
    found = []
    for key, array in full.items():
        variable = by_key.get(key) or by_key.get(key[len(prefix):] if key.startswith(prefix) else prefix + key)
        if variable is None:
            raise CheckpointError(f"The adapter in {directory} saves {key!r} in full, which {type(model).__name__} "
                                  "does not have.")
        variable, transpose = variable
        value = pt_to_tf_array(array, transpose)
        if not same_up_to_unit_dims(tuple(value.shape), tuple(variable.shape)):
            raise CheckpointError(f"The adapter in {directory} saves {key!r} with shape {tuple(array.shape)}; the "
                                  f"model's weight has shape {tuple(variable.shape)}.")
        found.append((variable, np.reshape(value, variable.shape).astype(variable.dtype)))
    return found


def merge_lora(model: keras.Model) -> list[str]:
    """Fold every adapter into its kernel (`kernel + alpha / r * A @ B`, in the kernel's dtype), remove the
    adapters, and give every weight the `trainable` flag it had before `enable_lora`/`load_adapter`: the model is
    a plain one again, for `save_pretrained` and the serving export. Returns the merged module paths. Before
    training again, call `compile()` (with a new optimizer).

    Example:
        >>> merge_lora(model)
    """
    layers = _lora_layers(model)
    state = _state(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no LoRA adapters to merge.")
    recorded = {id(variable) for variable, _ in state.trainable} if state is not None else set()
    for layer in layers.values():
        kernel = layer._kernel
        delta = (layer.lora_alpha / layer.lora_rank) * (np.asarray(layer.lora_kernel_a.value, np.float32)
                                                        @ np.asarray(layer.lora_kernel_b.value, np.float32))
        kernel.assign((np.asarray(kernel.value, np.float32) + delta).astype(kernel.dtype))
        # A function traced earlier keeps reading the adapter: with B zero it adds nothing to the merged kernel.
        layer.lora_kernel_b.assign(np.zeros(layer.lora_kernel_b.shape, np.float32))
        remove_variable(layer, "lora_kernel_a")
        remove_variable(layer, "lora_kernel_b")
        layer.lora_enabled = False
        layer.lora_rank = None
        layer.lora_alpha = None
        if id(kernel) not in recorded:  # adapters added by Keras' own Dense.enable_lora
            kernel.trainable = True
    if state is not None:
        for variable, trainable in state.trainable:
            variable.trainable = trainable
        model.runtime_state.lora = None
    reset_compiled_functions(model)
    return sorted(layers)


def has_lora(model: keras.Model) -> bool:
    """Whether any projection of `model` carries a LoRA adapter."""
    return bool(_lora_layers(model))
