"""A save killed with SIGKILL at any point never leaves a directory that loads a mix of two checkpoints."""

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.helpers import Case
from tfmodels.errors import CheckpointError

pytestmark = pytest.mark.slow
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASE = Case("bert_seqcls")

CHILD = textwrap.dedent("""
    import os, signal, sys
    from tests.helpers import Case
    from tfmodels.checkpoints import writer

    directory, kill_at, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    case = Case("bert_seqcls")
    model = case.model_class.from_pretrained(directory)
    for weight in model.weights:
        weight.assign(weight + 1.0)  # the new save differs from the old one in every weight
    calls = [0]

    def killing(function):
        def wrapped(*args, **kwargs):
            calls[0] += 1
            if calls[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return function(*args, **kwargs)
        return wrapped

    os.replace, os.remove = killing(os.replace), killing(os.remove)
    for name in ("write_h5", "write_h5_shard", "write_safetensors", "_fsync_directory"):
        setattr(writer, name, killing(getattr(writer, name)))
    kwargs = {"sharded_h5": {"max_shard_size": "40KB"}, "safetensors": {"safe_serialization": True}}[mode]
    model.save_pretrained(directory, **kwargs)
    print("CALLS", calls[0])
""")


def _child(directory, kill_at, mode):
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-c", CHILD, str(directory), str(kill_at), mode], env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("old_mode, new_mode", [("sharded_h5", "sharded_h5"), ("sharded_h5", "safetensors")])
def test_killed_save_loads_old_or_new_or_refuses(old_mode, new_mode, tmp_path):
    model = CASE.model_class.from_pretrained(CASE.path("tf_h5"))
    old_logits = model(CASE.inputs).logits.numpy()
    save_args = {"sharded_h5": {"max_shard_size": "40KB"}, "safetensors": {"safe_serialization": True}}

    def fresh_directory():
        directory = tmp_path / "ckpt"
        if directory.exists():
            for name in os.listdir(directory):
                path = directory / name
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    os.remove(path)
        model.save_pretrained(directory, **save_args[old_mode])
        (directory / "tokenizer.json").write_text('{"keep": true}')
        return directory

    directory = fresh_directory()
    complete = _child(directory, 0, new_mode)
    assert complete.returncode == 0, complete.stderr[-2000:]
    total = int(complete.stdout.split("CALLS")[-1])
    new_logits = CASE.model_class.from_pretrained(directory)(CASE.inputs).logits.numpy()
    assert not np.allclose(new_logits, old_logits)

    outcomes = set()
    for kill_at in range(1, total + 1):
        directory = fresh_directory()
        result = _child(directory, kill_at, new_mode)
        assert result.returncode == -9, (kill_at, result.returncode, result.stderr[-2000:])
        assert (directory / "tokenizer.json").read_text() == '{"keep": true}'
        try:
            logits = CASE.model_class.from_pretrained(directory)(CASE.inputs).logits.numpy()
        except CheckpointError as err:
            assert "interrupted" in str(err), err
            outcomes.add("refused")
        else:
            if np.array_equal(logits, old_logits):
                outcomes.add("old")
            else:
                np.testing.assert_array_equal(logits, new_logits, err_msg=f"a mix of two saves at call {kill_at}")
                outcomes.add("new")
        model.save_pretrained(directory)  # a later save repairs the directory and cleans up after the dead one
        assert not [n for n in os.listdir(directory) if n.startswith(".tfmodels")]
        np.testing.assert_array_equal(CASE.model_class.from_pretrained(directory)(CASE.inputs).logits.numpy(),
                                      old_logits)
    assert {"old", "refused"} <= outcomes
