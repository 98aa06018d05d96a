"""Load an export the way TF Serving does and check it; run as a script in a fresh process.

    python verify_export.py EXPORT_DIR CASES.npz
    python verify_export.py -        (then EXPORT_DIR and CASES.npz as one JSON list on standard input)

With `-` the process imports TensorFlow first and then waits for the paths, so that an exporter can start it while
it is still writing the export.

Only TensorFlow (and the TF Serving protos, for the warm-up file) may be imported: keras and the project's own
packages are blocked, so an export that secretly needs them fails here. For every signature named in CASES.npz
(`<case>/<signature>/in/<input>` and `<case>/<signature>/out/<output>` arrays), the loaded signature is called and
its outputs compared with the expected ones (`compare`: floats within a tolerance scaled to each output, read as
float32 whatever their dtype). Warm-up records, when present, are replayed. Prints one JSON line.
"""

import json
import os
import sys

BLOCKED = ("keras", "tf_keras", "tfmodels", "serving", "keras_integration")


def compare(got, expected, tolerance: float) -> str:
    """'' when `got` matches `expected` (same shape), else what differs. Floats match within `tolerance` relative
    to each value plus `tolerance` times the output's scale (its largest magnitude, at least 1): rounding between
    two equivalent graphs grows with the values it rounds. Integers (token ids) must be equal.

    Example:
        >>> compare(np.array([100.0, 0.0]), np.array([100.0005, 0.0004]), 1e-5)  # scale 100: floor 1e-3
        ''
    """
    import numpy as np

    if not np.issubdtype(expected.dtype, np.floating):
        wrong = int(np.sum(got != expected))
        return f"differs at {wrong} of {expected.size} positions" if wrong else ""
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    floor = tolerance * scale
    if np.allclose(got, expected, atol=floor, rtol=tolerance):
        return ""
    excess = np.abs(got - expected) - (floor + tolerance * np.abs(expected))
    worst = np.unravel_index(int(np.argmax(excess)), excess.shape)
    return (f"differs by up to {float(np.max(np.abs(got - expected))):.3g}: at {tuple(int(i) for i in worst)} "
            f"{float(got[worst]):.6g} instead of {float(expected[worst]):.6g}, beyond the tolerance "
            f"{floor:.3g} + {tolerance:.3g} x |expected|")


def main(export_dir: str | None, cases_path: str | None, atol: float = 1e-5) -> dict:
    for name in BLOCKED:  # as if not installed: `import keras` fails and find_spec("keras") finds nothing
        sys.modules[name] = None
    import numpy as np
    import tensorflow as tf

    if export_dir is None:
        line = sys.stdin.readline()
        if not line:
            return {}
        export_dir, cases_path, *rest = json.loads(line)
        atol = rest[0] if rest else atol

    loaded = tf.saved_model.load(export_dir)
    report = {"signatures": sorted(loaded.signatures.keys()), "problems": [], "checked": 0, "warmup_replayed": 0}
    cases = np.load(cases_path)
    grouped: dict = {}
    for key in cases.files:
        case, signature, kind, name = key.split("/")
        grouped.setdefault((case, signature), {"in": {}, "out": {}})[kind][name] = cases[key]
    for (case, signature), arrays in sorted(grouped.items()):
        if signature not in loaded.signatures:
            report["problems"].append(f"signature {signature!r} is missing")
            continue
        function = loaded.signatures[signature]
        specs = function.structured_input_signature[1]
        inputs = {name: tf.constant(value, dtype=specs[name].dtype) for name, value in arrays["in"].items()}
        try:
            outputs = function(**inputs)
        except Exception as err:  # report any failure of the loaded graph, whatever its type
            report["problems"].append(f"{signature} on {case}: calling it failed: {type(err).__name__}: {err}")
            continue
        for name, expected in arrays["out"].items():
            if name not in outputs:
                report["problems"].append(f"{signature} on {case}: output {name!r} is missing")
                continue
            got = outputs[name]
            got = (tf.cast(got, tf.float32) if got.dtype.is_floating else got).numpy()  # bfloat16 included
            if got.shape != expected.shape:
                report["problems"].append(f"{signature} on {case}: {name} has shape {got.shape}, expected "
                                          f"{expected.shape}")
                continue
            problem = compare(got, expected, atol)
            if problem:
                report["problems"].append(f"{signature} on {case}: {name} {problem}")
        report["checked"] += 1

    warmup = os.path.join(export_dir, "assets.extra", "tf_serving_warmup_requests")
    if os.path.exists(warmup):
        from tensorflow_serving.apis import prediction_log_pb2

        for record in tf.data.TFRecordDataset(warmup):
            log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
            request = log.predict_log.request
            name = request.model_spec.signature_name or "serving_default"
            inputs = {key: tf.make_ndarray(proto) for key, proto in request.inputs.items()}
            try:
                loaded.signatures[name](**{k: tf.constant(v) for k, v in inputs.items()})
            except Exception as err:  # a record TF Serving could not replay
                report["problems"].append(f"warm-up record for {name!r} does not replay: {type(err).__name__}: "
                                          f"{err}")
            report["warmup_replayed"] += 1
    leaked = sorted(name for name, module in sys.modules.items() if module is not None
                    and name.split(".")[0] in BLOCKED)
    if leaked:
        report["problems"].append(f"loading the export imported {leaked}")
    return report


if __name__ == "__main__":
    arguments = sys.argv[1:] if sys.argv[1:] != ["-"] else [None, None]
    print("VERIFY " + json.dumps(main(*arguments)))
