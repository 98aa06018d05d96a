"""Train a tiny classifier for two steps under a tf.distribute strategy, in each case of `CASES`; save each case's
history and final weights.

    python distributed_step.py single|mirrored|worker OUT.npz [WORKER_INDEX PORT0 PORT1]

Input forms: labels inside the dict, `(x, y)`, `(x, y, sample_weight)`. Compile settings: the model's own loss with
and without `metrics=["accuracy"]`, and a Keras loss with metrics. Each form and each setting is in some case (every
pair would be nine cases, each a trace of the training step under the strategy: minutes on two cores). Labels in the
dict come with metrics (Keras' symbolic build under a strategy calls compute_metrics on a batch without labels), `xy`
and `xyw` compare their losses (the sample weights must change it), `xyw` runs both losses (which must agree).
"""

import json
import os
import sys

mode, out = sys.argv[1], sys.argv[2]
if mode == "worker":
    index, ports = int(sys.argv[3]), sys.argv[4:6]
    os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                                          "task": {"type": "worker", "index": index}})

import tensorflow as tf  # noqa: E402

if mode == "mirrored":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

keras.config.disable_traceback_filtering()
import numpy as np  # noqa: E402

from tests.keras_integration.tiny import tiny_batch, tiny_model  # noqa: E402

CLASS = "TFBertForSequenceClassification"
strategy = {"single": tf.distribute.get_strategy,
            "mirrored": lambda: tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]),
            "worker": tf.distribute.MultiWorkerMirroredStrategy}[mode]()
batch = tiny_batch(CLASS, n=16)
inputs = {k: v for k, v in batch.items() if k != "labels"}
weights = np.linspace(0.2, 1.8, 16).astype(np.float32)
FORMS = {
    "dict": (batch,),
    "xy": (inputs, batch["labels"]),
    "xyw": (inputs, batch["labels"], weights),
}
COMPILES = {
    "internal": {},
    "internal+metrics": {"metrics": ["accuracy"]},
    "keras_loss+metrics": {"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                           "metrics": ["accuracy"]},
}
keras.utils.set_random_seed(0)
initial = [w.numpy() for w in tiny_model(CLASS).weights]
options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
CASES = ("dict/internal+metrics", "xy/internal", "xyw/internal+metrics", "xyw/keras_loss+metrics")
results = {}
for case in CASES:
    form, setting = case.split("/")
    with strategy.scope():
        model = tiny_model(CLASS)
        for variable, value in zip(model.weights, initial):
            variable.assign(value)
        model.compile(optimizer=keras.optimizers.SGD(0.5), **{"loss": "auto", **COMPILES[setting]})
    data = tf.data.Dataset.from_tensor_slices(FORMS[form]).batch(8).with_options(options)  # global batch 8
    history = model.fit(data, epochs=1, verbose=0).history
    for name, values in history.items():
        results[f"{case}/history/{name}"] = np.array(values)
    results[f"{case}/weights"] = np.concatenate([w.numpy().ravel() for w in model.weights])
np.savez(out, **results)
print("DONE", strategy.num_replicas_in_sync)
