"""Importing stays light and loading PyTorch weights never needs torch."""

import os
import subprocess
import sys
import textwrap

import pytest

from tests.helpers import Case

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BLOCK_TORCH = textwrap.dedent("""
    import sys
    class _Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "transformers", "tf_keras"):
                raise ImportError(f"{name} is blocked in this test")
    sys.meta_path.insert(0, _Block())
""")


def _run(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_import_has_no_side_effects():
    out = _run(textwrap.dedent("""
        import os, sys
        def changes(before):
            return sorted(k for k in set(os.environ) | set(before) if os.environ.get(k) != before.get(k))
        before = dict(os.environ)
        import tfmodels, keras_integration, serving  # lazy: nothing heavy is imported yet
        print("PACKAGES", changes(before), "tensorflow" in sys.modules)
        import h5py, keras, tensorflow  # these set variables of their own (TF2_BEHAVIOR, HDF5_PLUGIN_PATH, ...)
        before = dict(os.environ)
        from tfmodels import TFBertModel, TFGPT2LMHeadModel, TFAutoModel, AutoConfig
        bad = [m for m in ("torch", "tf_keras", "transformers") if m in sys.modules]
        print("MODELS", bad, changes(before))
    """))
    assert "PACKAGES [] False" in out
    assert "MODELS [] []" in out


def test_pytorch_checkpoints_load_with_torch_unimportable():
    case = Case("bert_qa")
    out = _run(BLOCK_TORCH + textwrap.dedent("""
        import numpy as np
        import tfmodels
        from tests.helpers import Case, assert_matches_reference, run
        case = Case("bert_qa")
        for layout in ("pt_safetensors", "pt_sharded_safetensors", "pt_bin", "pt_sharded_bin"):
            model = case.model_class.from_pretrained(case.path(layout))
            assert_matches_reference(case, run(model, case))
        try:
            import torch
        except ImportError:
            print("TORCH BLOCKED")
    """))
    assert "TORCH BLOCKED" in out
    assert case.meta["pt_class"] == "BertForQuestionAnswering"


def test_torch_written_bin_files_load_with_torch_unimportable(tmp_path):
    import torch
    import numpy as np

    state = {"w": torch.randn(4, 3), "t": torch.randn(3, 5).t(), "h": torch.randn(6).half(),
             "b": torch.randn(2, 2).bfloat16(), "i": torch.arange(4)}
    np.savez(tmp_path / "expected.npz", **{k: v.float().numpy() for k, v in state.items()})
    torch.save(state, tmp_path / "zip.bin")
    torch.save(state, tmp_path / "legacy.bin", _use_new_zipfile_serialization=False)
    out = _run(BLOCK_TORCH + textwrap.dedent(f"""
        import numpy as np
        from tfmodels.checkpoints.pytorch_format import read_pytorch_bin
        expected = np.load({str(tmp_path / "expected.npz")!r})
        for name in ("zip.bin", "legacy.bin"):
            weights = read_pytorch_bin({str(tmp_path)!r} + "/" + name)
            assert sorted(weights.tensors) == sorted(expected.files)
            for key in expected.files:
                np.testing.assert_array_equal(weights.tensors[key].load().astype(np.float32), expected[key])
        assert "torch" not in __import__("sys").modules
        print("BOTH FORMATS OK")
    """))
    assert "BOTH FORMATS OK" in out


@pytest.mark.slow
def test_keras_files_load_in_a_fresh_process_after_import_tfmodels_alone(tmp_path):
    import numpy as np

    import tfmodels
    from tests.keras_integration.tiny import tiny_model
    from tests.tfmodels.models.model_checks import ARCHITECTURES, first_head

    # One class per architecture (every class's `.keras` round trip runs in-process in test_every_model.py); every
    # class's registration is checked below.
    loaded = sorted(first_head(model_type) for model_type in ARCHITECTURES)
    expected = {}
    for name in loaded:
        model = tiny_model(name)
        model.build_in_name_scope()
        model.save(tmp_path / f"{name}.keras")
        expected[name] = sum(float(np.sum(np.abs(v))) for v in model.get_weights())
    np.savez(tmp_path / "expected.npz", **expected)
    check = textwrap.dedent(f"""
        import numpy as np
        expected = np.load({str(tmp_path / "expected.npz")!r})
        for name in NAMES:
            model = keras.models.load_model({str(tmp_path)!r} + f"/{{name}}.keras")
            assert type(model).__name__ == name, (name, type(model))
            total = sum(float(np.sum(np.abs(v))) for v in model.get_weights())
            assert abs(total - float(expected[name])) < 1e-3, (name, total, float(expected[name]))
        print("LOADED", len(NAMES))
    """)
    everything = _run(textwrap.dedent(f"""
        import sys
        import tfmodels
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules
        import keras
        NAMES = {loaded!r}
        EVERY_CLASS = {sorted(tfmodels.MODEL_CLASSES)!r}
    """) + check + textwrap.dedent("""
        # The stand-ins were replaced by the real classes, and they name exactly the classes Keras registers.
        registry = keras.saving.get_custom_objects()
        import tfmodels.models.bert, tfmodels.models.gpt2
        ours = sorted(key for key in registry if key.startswith("tfmodels>"))
        assert ours == sorted("tfmodels>" + name for name in EVERY_CLASS), ours
        assert all(isinstance(registry[key], type) for key in ours), [registry[key] for key in ours]
    """))
    assert f"LOADED {len(loaded)}" in everything and len(loaded) == len(ARCHITECTURES)
    gpt2 = [name for name in loaded if "GPT2" in name]
    architecture_only = _run(f"import keras\nimport tfmodels.models.gpt2\nNAMES = {gpt2!r}\n" + check)
    assert "LOADED 1" in architecture_only and len(gpt2) == 1
