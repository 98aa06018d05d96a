"""tf.distribute: two logical CPUs (MirroredStrategy) and two worker processes (MultiWorkerMirroredStrategy) give
the single-device loss, metrics and weights, for each input form (labels in the dict, `(x, y)`, `(x, y,
sample_weight)`) and each compile setting (the model's own loss, with compiled metrics, a Keras loss). Keras
pitfalls: a naive compute_loss reports loss x replicas here, and Keras' symbolic build under a strategy calls
compute_metrics on the unsplit batch."""

import os
import socket
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "tests", "keras_integration", "scripts", "distributed_step.py")
ENV = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
CASES = ["dict/internal+metrics", "xy/internal", "xyw/internal+metrics", "xyw/keras_loss+metrics"]


def _start(*args):
    return subprocess.Popen([sys.executable, SCRIPT, *map(str, args)], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(process):
    out, err = process.communicate(timeout=900)
    assert process.returncode == 0, err[-3000:]
    return out


def _assert_same(reference, other):
    assert sorted(other.files) == sorted(reference.files)
    for name in reference.files:
        np.testing.assert_allclose(other[name], reference[name], atol=1e-5, rtol=0, err_msg=name)


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    path = tmp_path_factory.mktemp("single") / "single.npz"
    assert "DONE 1" in _finish(_start("single", path))
    results = np.load(path)
    assert sorted({"/".join(key.split("/")[:2]) for key in results.files}) == sorted(CASES)
    for case in CASES:  # every case trained and logged what was compiled
        assert f"{case}/weights" in results.files
        assert (f"{case}/history/accuracy" in results.files) == ("metrics" in case), case
    # the sample weights reached the loss: the weighted loss differs from the unweighted one
    # (metrics do not change the loss)
    weighted, unweighted = (float(results[f"{case}/history/loss"][0])
                            for case in ("xyw/internal+metrics", "xy/internal"))
    assert abs(weighted - unweighted) > 1e-4
    np.testing.assert_allclose(results["xyw/internal+metrics/history/loss"],
                               results["xyw/keras_loss+metrics/history/loss"], rtol=1e-5)
    return results


def test_mirrored_strategy_on_two_logical_cpus_equals_one_device(single, tmp_path):
    path = tmp_path / "mirrored.npz"
    assert "DONE 2" in _finish(_start("mirrored", path))
    _assert_same(single, np.load(path))


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_multi_worker_mirrored_strategy_with_two_processes(single, tmp_path):
    ports = [_free_port(), _free_port()]
    workers = [_start("worker", tmp_path / f"w{i}.npz", i, *ports) for i in range(2)]
    for worker in workers:
        assert "DONE 2" in _finish(worker)
    first, second = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    _assert_same(first, second)  # both workers end with identical weights
    _assert_same(single, first)  # equal to the single-process run
