"""Train a tiny classifier for 4 epochs with a resumable `TrainingCheckpoint`, alone or as one of two
MultiWorkerMirroredStrategy workers; print `BATCH epoch batch` after every step (flushed, 0.05 s apart, so that a test
can kill a worker mid-epoch); at the end save the run's full history and final weights.

    python resumable_fit.py single|worker OUT.npz CHECKPOINT_DIR [WORKER_INDEX PORT0 PORT1]

Run again with the same CHECKPOINT_DIR after a kill: training resumes after the last finished epoch.
"""

import json
import os
import sys
import time

mode, out, checkpoint = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == "worker":
    index, ports = int(sys.argv[4]), sys.argv[5:7]
    os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                                          "task": {"type": "worker", "index": index}})

import tensorflow as tf  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_integration.callbacks import TrainingCheckpoint  # noqa: E402
from tests.keras_integration.tiny import tiny_batch, tiny_model  # noqa: E402

CLASS = "TFBertForSequenceClassification"
EPOCHS = 4


class Pace(keras.callbacks.Callback):
    """Report each step and slow the run down enough to be interrupted between two steps."""

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        print("BATCH", self.epoch, batch, flush=True)
        time.sleep(0.05)


strategy = tf.distribute.MultiWorkerMirroredStrategy() if mode == "worker" else tf.distribute.get_strategy()
keras.utils.set_random_seed(0)
initial = [w.numpy() for w in tiny_model(CLASS).weights]  # outside the strategy, whose initializers draw otherwise
with strategy.scope():
    model = tiny_model(CLASS)
    for variable, value in zip(model.weights, initial):
        variable.assign(value)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="auto", metrics=["accuracy"])
options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
data = tf.data.Dataset.from_tensor_slices(tiny_batch(CLASS, n=64)).batch(8).with_options(options)  # 8 steps/epoch
checkpointing = TrainingCheckpoint(checkpoint, resume=True)
model.fit(data, epochs=EPOCHS, verbose=0, callbacks=[checkpointing, Pace()])
history = {f"history/{name}": np.array(values) for name, values in checkpointing.history.items()}
np.savez(out, weights=np.concatenate([w.numpy().ravel() for w in model.weights]), **history)
print("DONE", strategy.num_replicas_in_sync, flush=True)
