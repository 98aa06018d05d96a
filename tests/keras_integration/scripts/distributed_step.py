"""Train a tiny classifier for a few steps under a tf.distribute strategy; print loss and weights as JSON.

    python distributed_step.py single|mirrored|worker OUT.npz [WORKER_INDEX PORT0 PORT1]
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

strategy = {"single": tf.distribute.get_strategy,
            "mirrored": lambda: tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]),
            "worker": tf.distribute.MultiWorkerMirroredStrategy}[mode]()
batch = tiny_batch("TFBertForSequenceClassification", n=16)
keras.utils.set_random_seed(0)
initial = [w.numpy() for w in tiny_model("TFBertForSequenceClassification").weights]
with strategy.scope():
    model = tiny_model("TFBertForSequenceClassification")
    for variable, value in zip(model.weights, initial):
        variable.assign(value)
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="auto")
data = tf.data.Dataset.from_tensor_slices(batch).batch(8)  # global batch 8, two steps
options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
history = model.fit(data.with_options(options), epochs=1, verbose=0).history
np.savez(out, loss=np.array(history["loss"]), **{w.path: w.numpy() for w in model.weights})
print("DONE", strategy.num_replicas_in_sync)
