"""Training survives a killed process: two MultiWorkerMirroredStrategy workers, one killed (SIGKILL) mid-epoch,
restarted, end with the weights and history of an uninterrupted run; a single process killed while it writes a
checkpoint leaves the previous one loadable. The single-process runs train eagerly: what they check is the checkpoint
callback's files, and tracing a training step costs more than the whole of their few steps on two cores."""

import os
import signal
import socket
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_integration.callbacks import TrainingCheckpoint, load_training_checkpoint
from tests.keras_integration.tiny import tiny_batch, tiny_model

pytestmark = pytest.mark.slow
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "tests", "keras_integration", "scripts", "resumable_fit.py")
ENV = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, SCRIPT, *map(str, args)], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=900)
    assert process.returncode == 0, err[-3000:]
    return out


def _workers(tmp_path, checkpoint, tag):
    ports = [_free_port(), _free_port()]
    return [_start("worker", tmp_path / f"{tag}{i}.npz", checkpoint, i, *ports) for i in range(2)]


def test_killed_worker_resumes_to_the_uninterrupted_result(tmp_path):
    uninterrupted = _workers(tmp_path, tmp_path / "uninterrupted_checkpoint", "uninterrupted")
    assert all("DONE 2" in _finish(worker) for worker in uninterrupted)
    reference = np.load(tmp_path / "uninterrupted0.npz")
    assert reference["history/loss"].shape == (4,) and reference["history/loss"][-1] < reference["history/loss"][0]

    checkpoint = tmp_path / "cluster_checkpoint"
    workers = _workers(tmp_path, checkpoint, "first")
    seen = []
    for line in workers[0].stdout:  # run until the middle of the third epoch (epochs 0 and 1 checkpointed)
        seen.append(line.strip())
        if line.startswith("BATCH 2 3"):
            break
    assert "BATCH 2 3" in seen, (seen[-5:], workers[0].communicate(timeout=60)[1][-3000:])
    workers[1].send_signal(signal.SIGKILL)
    workers[1].wait(timeout=60)
    workers[0].kill()  # its peer is gone: the cluster restarts as a whole
    workers[0].communicate(timeout=60)
    assert workers[1].returncode == -signal.SIGKILL
    with open(checkpoint / "trainer_state.json") as handle:
        assert '"epoch": 1' in handle.read()  # the last finished epoch, not the interrupted one

    restarted = _workers(tmp_path, checkpoint, "resumed")
    outputs = [_finish(worker) for worker in restarted]
    assert all("DONE 2" in out for out in outputs)
    assert "BATCH 0 " not in outputs[0] and "BATCH 1 " not in outputs[0] and "BATCH 2 0" in outputs[0]
    first, second = np.load(tmp_path / "resumed0.npz"), np.load(tmp_path / "resumed1.npz")
    for name in reference.files:
        np.testing.assert_allclose(first[name], second[name], atol=1e-6, rtol=0, err_msg=name)
        np.testing.assert_allclose(first[name], reference[name], atol=1e-5, rtol=0, err_msg=name)


CHILD = textwrap.dedent("""
    import os, signal, sys
    import keras, numpy as np
    from keras_integration import callbacks
    from tests.keras_integration.tiny import tiny_batch, tiny_model

    directory, kill_name, kill_count = sys.argv[1], sys.argv[2].split(":")[0], int(sys.argv[2].split(":")[1])
    keras.utils.set_random_seed(0)
    model = tiny_model("TFBertForSequenceClassification")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="auto", run_eagerly=True)
    data = tiny_batch("TFBertForSequenceClassification", n=16)
    model.fit(data, batch_size=8, epochs=1, shuffle=False, verbose=0,
              callbacks=[callbacks.TrainingCheckpoint(directory)])
    calls = []

    def killing(function, name):
        def wrapped(*args, **kwargs):
            calls.append(name)
            if name == kill_name and calls.count(name) == kill_count:
                os.kill(os.getpid(), signal.SIGKILL)
            return function(*args, **kwargs)
        return wrapped

    callbacks.np.savez, callbacks.os.replace = killing(np.savez, "savez"), killing(os.replace, "replace")
    callbacks.json.dump = killing(callbacks.json.dump, "dump")
    callbacks.shutil.rmtree = killing(callbacks.shutil.rmtree, "rmtree")
    model.fit(data, batch_size=8, epochs=2, initial_epoch=1, shuffle=False, verbose=0,
              callbacks=[callbacks.TrainingCheckpoint(directory)])
""")


def _reference_weights_per_epoch():
    keras.utils.set_random_seed(0)
    model = tiny_model("TFBertForSequenceClassification")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="auto", run_eagerly=True)
    data = tiny_batch("TFBertForSequenceClassification", n=16)
    per_epoch = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: per_epoch.append(
        [w.numpy().copy() for w in model.weights]))
    model.fit(data, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[record])
    return per_epoch


def test_a_process_killed_while_writing_a_checkpoint_leaves_one_that_loads(tmp_path):
    expected = _reference_weights_per_epoch()
    # The save writes weights, optimizer state and trainer state (savez, savez, dump), removes a stale
    # `.previous` (rmtree 1), moves the old checkpoint aside and the new one in (replace 1, 2), then removes the old
    # one (rmtree 2). Killed in each window: while writing, between the two moves, during the removal.
    kill_points = ["savez:1", "replace:2", "rmtree:2"]
    epochs = set()
    for pair in range(0, len(kill_points), 2):  # two children at a time: one per core
        children = {kill_at: subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path / kill_at.replace(":", "_") / "checkpoint"), kill_at], env=ENV,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for kill_at in kill_points[pair:pair + 2]}
        for kill_at, child in children.items():
            _, err = child.communicate(timeout=600)
            assert child.returncode == -signal.SIGKILL, (kill_at, err[-2000:])
    for kill_at in kill_points:
        directory = tmp_path / kill_at.replace(":", "_") / "checkpoint"
        model = tiny_model("TFBertForSequenceClassification")
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="auto", run_eagerly=True)
        state = load_training_checkpoint(model, str(directory))
        epochs.add(state["epoch"])
        for ours, theirs in zip(model.weights, expected[state["epoch"]]):
            np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-6, rtol=0, err_msg=f"kill at {kill_at}")
        # And the next save over what the kill left works.
        model.save_training_checkpoint(str(directory), state["epoch"])
        assert load_training_checkpoint(model, str(directory))["epoch"] == state["epoch"]
    assert epochs == {0, 1}  # early kills keep epoch 0's checkpoint, late ones leave epoch 1's complete


def test_resume_continues_after_the_checkpoint_with_its_history(tmp_path):
    data = tiny_batch("TFBertForSequenceClassification", n=32)

    def run(epochs, directory):
        keras.utils.set_random_seed(0)
        model = tiny_model("TFBertForSequenceClassification")
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="auto", run_eagerly=True)
        checkpoint = TrainingCheckpoint(str(directory), resume=True)
        history = model.fit(data, batch_size=8, epochs=epochs, shuffle=False, verbose=0, callbacks=[checkpoint])
        return model, checkpoint, history

    whole, whole_checkpoint, _ = run(3, tmp_path / "whole")
    run(1, tmp_path / "parts")  # "crashed" after its first epoch
    resumed, resumed_checkpoint, history = run(3, tmp_path / "parts")
    assert len(history.history["loss"]) == 2  # this fit ran epochs 1 and 2 only
    np.testing.assert_allclose(resumed_checkpoint.history["loss"], whole_checkpoint.history["loss"], rtol=1e-5)
    for ours, theirs in zip(resumed.weights, whole.weights):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-6, rtol=0)
