"""SavedModel export for TF Serving: versioned layout, signatures, warm-up records and verification."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from serving.signatures import default_signatures

logger = logging.getLogger(__name__)
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
VERIFY_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "verify_export.py")


class ExportError(RuntimeError):
    """An export could not be written, or it was written but did not answer like the model; nothing is left."""


def next_version(export_base: str) -> int:
    """One more than the highest integer version directory in `export_base` (1 when there is none)."""
    if not os.path.isdir(export_base):
        return 1
    versions = [int(name) for name in os.listdir(export_base) if re.fullmatch(r"\d+", name)]
    return max(versions, default=0) + 1


def _resolve_signatures(model, signatures) -> dict[str, tuple]:
    """Default signatures, replaced or extended by the user's (a tf.function, or a dict of them)."""
    resolved = default_signatures(model)
    if signatures is None:
        return resolved
    if not isinstance(signatures, Mapping):
        signatures = {"serving_default": signatures}
    for name, function in signatures.items():
        if isinstance(function, tuple):
            resolved[name] = function
        elif getattr(function, "input_signature", None) is not None:
            resolved[name] = (function, None)
        else:
            resolved[name] = (function, [dict(model.input_signature)])
    return resolved


def _user_names(signatures) -> list[str]:
    if signatures is None:
        return []
    return list(signatures) if isinstance(signatures, Mapping) else ["serving_default"]


def _check_inputs(model) -> list[dict[str, np.ndarray]]:
    """Verification inputs: the model's dummy inputs and a second batch of another size and length."""
    first = {name: np.asarray(value) for name, value in model.dummy_inputs.items()}
    if hasattr(model, "make_dummy_inputs"):  # the model knows the shape of each input (choices, lengths)
        second = {name: np.array(value) for name, value in model.make_dummy_inputs(3, 5, 3).items()}
    else:
        second = {name: np.full((3,) + tuple(5 if i == value.ndim - 1 else 3 for i in range(1, value.ndim)),
                                0 if name == "token_type_ids" else 1, value.dtype) for name, value in first.items()}
    if "attention_mask" in second:
        second["attention_mask"][..., 1, -2:] = 0  # some padding
    if "input_ids" in second:
        ids = second["input_ids"]
        second["input_ids"] = (np.arange(ids.size).reshape(ids.shape) % 7 + 1).astype(ids.dtype)
    adapt = getattr(model, "adapt_check_inputs", None)  # inputs the model refuses otherwise (BART's <eos> rule)
    return [first, adapt(second) if adapt is not None else second]


def _warmup_records(warmup_inputs, default: Mapping[str, Any], signatures: dict[str, tuple]) -> list[tuple]:
    """`(signature name, inputs)` per warm-up record: the user's (a mapping for `serving_default`, or a
    `(signature name, mapping)` pair), else `default` for `serving_default`; then what each signature function
    lists in its `warmup_inputs` (a served `generate`: one row, so that its first request finds its program)."""
    records = []
    for entry in [default] if warmup_inputs is None else warmup_inputs:
        if isinstance(entry, Mapping):
            records.append(("serving_default", entry))
        elif isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], Mapping):
            records.append((str(entry[0]), entry[1]))
        else:
            raise TypeError("warmup_inputs must be a list of input mappings (for serving_default) or of "
                            f"(signature name, inputs) pairs; received an entry of type {type(entry).__name__}.")
    unknown = sorted({name for name, _ in records} - set(signatures))
    if unknown:
        raise ValueError(f"warmup_inputs name signatures {unknown} that the export does not have; it has "
                         f"{sorted(signatures)}.")
    for name, (function, _) in signatures.items():
        records += [(name, inputs) for inputs in getattr(function, "warmup_inputs", ())]
    return records


def _write_warmup(path: str, records: Sequence[tuple[str, Mapping[str, Any]]], model_name: str) -> None:
    try:
        from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
    except ImportError as err:
        raise ImportError("Warm-up records need the TF Serving protos: pip install tensorflow-serving-api "
                          "(or pip install 'tfmodels[serving]').") from err
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for signature, inputs in records:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature))
            for name, value in inputs.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())


# Outputs of a traced graph and of the eager model differ by rounding only; how much depends on the compute dtype
# (a mixed_bfloat16 model keeps ~3 significant digits through every layer).
_TOLERANCE = {"float32": 1e-5, "float64": 1e-5, "float16": 1e-2, "bfloat16": 5e-2}


def verification_tolerance(model) -> float:
    """The tolerance an export of `model` is verified with (relative, and times each output's scale as an absolute
    floor: `verify_export.compare`): 1e-5 in float32, looser for models computing in float16 or bfloat16, whose
    eager and traced outputs round differently.

    Example:
        >>> verification_tolerance(model)  # 1e-05 under the float32 policy
    """
    policy = getattr(model, "dtype_policy", None)
    return _TOLERANCE.get(getattr(policy, "compute_dtype", "float32"), 1e-5)


def _start_verifier() -> subprocess.Popen:
    """Start the verifying process now: it imports TensorFlow while the export is being written."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, VERIFY_SCRIPT, "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _verify(model, verifier: subprocess.Popen, directory: str, signatures: dict[str, tuple],
            check_inputs: list[dict], eager: set[str], load_only: set[str] = frozenset()) -> dict:
    """Expected outputs in memory (eagerly for the default signatures named in `eager`); the verifier process
    loads the export with TensorFlow alone and compares. Signatures in `load_only` (random outputs) only load."""
    arrays = {}
    for index, inputs in enumerate(check_inputs):
        for name, (function, specs) in signatures.items():
            if specs is None or len(specs) != 1 or set(specs[0]) != set(inputs) or name in load_only:
                continue  # a custom signature with other inputs: checked for loading only
            cast = {k: tf.constant(v, dtype=specs[0][k].dtype) for k, v in inputs.items()}
            if name in eager:  # expected from the eager model, so that tracing differences show up
                outputs = model.serving_output(model(cast, training=False))
            else:
                outputs = function(cast)
            for key, value in inputs.items():
                arrays[f"case{index}/{name}/in/{key}"] = value
            for key, value in outputs.items():  # floats as float32: NumPy files have no bfloat16
                value = tf.cast(value, tf.float32) if tf.as_dtype(value.dtype).is_floating else value
                arrays[f"case{index}/{name}/out/{key}"] = keras.ops.convert_to_numpy(value)
    with tempfile.TemporaryDirectory() as scratch:
        cases = os.path.join(scratch, "cases.npz")
        np.savez(cases, **arrays)
        request = [directory, cases, verification_tolerance(model)]
        stdout, stderr = verifier.communicate(json.dumps(request) + "\n", timeout=1800)
    lines = [line for line in stdout.splitlines() if line.startswith("VERIFY ")]
    if verifier.returncode != 0 or not lines:
        raise ExportError(f"The export could not be loaded by TensorFlow alone:\n{stderr[-3000:]}")
    report = json.loads(lines[-1][len("VERIFY "):])
    missing = sorted(set(signatures) - set(report["signatures"]))
    if missing:
        report["problems"].append(f"signatures {missing} are missing from the export")
    return report


EXPORT_DTYPES = ("bfloat16", "float16")


def copy_at_precision(model: keras.Model, dtype: str) -> keras.Model:
    """A copy of `model` (same class and config) whose weights and computation are in `dtype` (`"bfloat16"` or
    `"float16"`), its weights cast from the model's; the model itself is unchanged. The copy takes the model's
    `generation_config` and its preprocessing (`image_processor`, `feature_extractor`) where it has them.

    Example:
        >>> copy_at_precision(model, "bfloat16").get_layer(index=0).compute_dtype
        'bfloat16'
    """
    if dtype not in EXPORT_DTYPES:
        raise ValueError(f"dtype must be one of {EXPORT_DTYPES} (or None for the model's own); received {dtype!r}.")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype)  # every layer the model creates takes the global policy
    try:
        copy = type(model).from_config({**model.get_config(), "dtype": dtype})
        if not copy.built:
            copy.build_from_config({})
    finally:
        keras.config.set_dtype_policy(previous)
    ours, theirs = copy.weights, model.weights
    if [w.path for w in ours] != [w.path for w in theirs] or [w.shape for w in ours] != [w.shape for w in theirs]:
        raise ExportError(f"A {dtype} copy of {type(model).__name__} does not have the model's weights (its config "
                          "does not rebuild it: adapters or layers added after construction); export the model as it "
                          "is, or merge its adapters first.")
    for target, source in zip(ours, theirs):
        target.assign(tf.cast(source.value, target.dtype) if target.dtype != source.dtype else source.value)
    # What travels with the model besides its config.
    for setting in ("generation_config", "image_processor", "feature_extractor"):
        if hasattr(model, setting):
            setattr(copy, setting, getattr(model, setting))
    return copy


def check_version(version) -> None:
    """An export version is a non-negative integer (TF Serving's directory name).

    Example:
        >>> check_version(-1)  # ValueError: version must be a non-negative integer; received -1.
    """
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ValueError(f"version must be a non-negative integer; received {version!r}.")


def export_saved_model(
    model: keras.Model,
    export_base: str | os.PathLike,
    version: int | None = None,
    signatures: Callable | Mapping[str, Callable] | None = None,
    warmup_inputs: Sequence[Mapping[str, Any]] | None = None,
    verify: bool = True,
    generate: bool = False,
    generation_kwargs: Mapping[str, Any] | None = None,
    dtype: str | None = None,
    raw_inputs: bool = True,
) -> str:
    """Export `model` as `export_base/<version>/`, the layout TF Serving loads (`--model_base_path=export_base`).

    Signatures: `serving_default` (int32 inputs) and `int64_serving` (int64 inputs), both returning the outputs
    `serving_output` keeps; `signatures` (a tf.function or a dict of them) replace or add to those. Warm-up
    requests (`warmup_inputs`: input mappings for `serving_default`, or `(signature name, inputs)` pairs; by default
    the model's dummy inputs when `tensorflow-serving-api` is installed) go to
    `assets.extra/tf_serving_warmup_requests`, with one request per generate signature that lists `warmup_inputs`.
    With `verify=True` the export is loaded in a fresh process that imports only TensorFlow, every default signature
    must reproduce the model's outputs on two input batches (within `verification_tolerance`, scaled to each
    output), and the warm-up records must replay; otherwise nothing is left
    behind and `ExportError` says what differed. `version=None` takes the next free integer; an existing version is
    never overwritten.

    With `generate=True` the model's `generation_serving_functions(**generation_kwargs)` add the signatures
    `generate` (`input_ids`, `attention_mask` -> `sequences`, `sequence_lengths`) and `generate_max_new_tokens`
    (also `max_new_tokens`, capped by the export's), with the generation settings fixed at export time; their
    tokens are verified too (for sampling, only that they load and answer). They run the XLA program of
    `generate(jit_compile=True)`: TF Serving needs `--xla_cpu_compilation_enabled=true` for them, or export with
    `generation_kwargs={"jit_compile": False}` for plain graphs (slower: GPT-2 at 0.7x in float32, far less in
    bfloat16).

    Models that take images or audio add signatures on raw inputs (`raw_input_serving_functions`, with
    `raw_inputs=True`), verified on the model's `raw_check_inputs()`: `serving_image_bytes` takes encoded images
    (`images`, `tf.string` `[batch]`) and runs the model's image processor in the graph; Whisper's
    `generate_from_audio` takes samples (`audio`, float32 `[batch, samples]` at 16 kHz) and generates token ids
    (with `generation_kwargs` when `generate=True`, else the model's generation config).

    `dtype="bfloat16"` (or `"float16"`) exports a copy of the model at that precision (weights and computation;
    logits stay float32) and verifies the export against that copy; the model in memory is not changed. A model
    already in half precision exports as it is.

    Example:
        >>> path = export_saved_model(model, "exports/classifier")  # exports/classifier/1
        >>> export_saved_model(lm, "exports/lm", generate=True, generation_kwargs={"max_new_tokens": 32})
        >>> export_saved_model(model, "exports/classifier", dtype="bfloat16")  # half the size, faster on bf16 CPUs
    """
    if dtype is not None:
        model = copy_at_precision(model, dtype)
    export_base = os.fspath(export_base)
    version = next_version(export_base) if version is None else version
    check_version(version)
    final = os.path.join(export_base, str(version))
    if os.path.exists(final):
        raise FileExistsError(f"{final} already exists; exports are never overwritten. Pass another version, or "
                              "version=None for the next free one.")
    os.makedirs(export_base, exist_ok=True)
    resolved = _resolve_signatures(model, signatures)
    load_only = set()
    if generate:
        factory = getattr(model, "generation_serving_functions", None)
        if factory is None or not getattr(model, "can_generate", lambda: False)():
            raise ValueError(f"generate=True needs a model that can generate (can_generate() True, with "
                             f"generation_serving_functions); {type(model).__name__} cannot.")
        functions = factory(**dict(generation_kwargs or {}))
        resolved.update(functions)
        load_only = {name for name, (function, _) in functions.items() if getattr(function, "nondeterministic", False)}
    elif generation_kwargs:
        raise ValueError("generation_kwargs are only used with generate=True.")
    check_inputs = _check_inputs(model)
    raw = getattr(model, "raw_input_serving_functions", None)
    if raw_inputs and raw is not None:  # signatures on what clients have: encoded images, audio samples
        resolved.update(raw(**dict(generation_kwargs or {})) if generate else raw())
        check_inputs += model.raw_check_inputs()
    records = _warmup_records(warmup_inputs, check_inputs[0], resolved)
    staging = tempfile.mkdtemp(prefix=f".export-{version}-", dir=export_base)
    verifier = _start_verifier() if verify else None
    try:
        archive = keras.export.ExportArchive()
        archive.track(model)
        try:
            for name, (function, specs) in resolved.items():
                archive.add_endpoint(name, function, input_signature=specs)
            archive.write_out(staging, verbose=False)
        except Exception as err:  # tracing runs the model's own code: any failure means no usable export
            raise ExportError(f"Exporting {type(model).__name__} failed while tracing its signatures: "
                              f"{type(err).__name__}: {err}") from err
        if warmup_inputs is not None or _serving_protos_available():
            _write_warmup(os.path.join(staging, WARMUP_FILE), records, os.path.basename(export_base))
        if verify:
            defaults = set(default_signatures(model)) - set(_user_names(signatures))
            report = _verify(model, verifier, staging, resolved, check_inputs, defaults, load_only)
            if report["problems"]:
                raise ExportError("The export does not answer like the model; it was removed:\n- "
                                  + "\n- ".join(report["problems"]))
            logger.info("Verified %d signature calls and %d warm-up records of %s.", report["checked"],
                        report["warmup_replayed"], final)
        os.replace(staging, final)
    finally:
        if verifier is not None and verifier.poll() is None:
            verifier.kill()
            verifier.communicate()
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _serving_protos_available() -> bool:
    try:
        import tensorflow_serving.apis.prediction_log_pb2  # noqa: F401
    except ImportError:
        return False
    return True


def write_model_config(path: str | os.PathLike, models: Mapping[str, str] | Sequence[tuple[str, str]]) -> str:
    """Write a TF Serving `models.config` (text proto) serving each `(name, export_base)`.

    Example:
        >>> write_model_config("models.config", {"classifier": "exports/classifier"})
        >>> # tensorflow_model_server --model_config_file=models.config
    """
    items = list(models.items()) if isinstance(models, Mapping) else list(models)
    if not items:
        raise ValueError("write_model_config needs at least one (name, export_base) pair.")
    lines = ["model_config_list {"]
    for name, base in items:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
            raise ValueError(f"Model name {name!r} must be letters, digits, '_', '.' or '-'.")
        lines += ["  config {", f'    name: "{name}"', f'    base_path: "{os.path.abspath(base)}"',
                  '    model_platform: "tensorflow"', "  }"]
    lines.append("}")
    path = os.fspath(path)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path
