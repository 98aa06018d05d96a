"""Every reference case in every layout gives PyTorch's outputs; weight names equal the reference's."""

import os
from collections import Counter

import h5py
import numpy as np
import pytest

import tfmodels
from tests.helpers import (
    CASES, FIXTURES, INDEX, Case, assert_matches_reference, case_layouts, in_reference_order, run,
)
from tfmodels.checkpoints.h5_format import load_attributes
from tfmodels.checkpoints.names import strip_model_name
from tfmodels.checkpoints.safetensors_format import read_header


def test_fixtures_are_version_4_of_the_supported_architectures():
    assert INDEX["version"] == 4
    assert sorted(os.listdir(FIXTURES)) == sorted(CASES + ["README.md", "index.json"])
    for name in CASES:
        case = Case(name)
        assert hasattr(tfmodels, case.class_name) and case.layouts
        assert sorted(os.listdir(case.root)) == sorted(case.layouts + ["case.json", "io.npz"] +
                                                       (["tf_saved_model"] if name in ("bert_seqcls", "gpt2_lm") else []))


@pytest.mark.parametrize(("case_name", "layout"), case_layouts())
def test_fixture_outputs_match_pytorch(case_name, layout):
    case = Case(case_name)
    model, info = case.model_class.from_pretrained(case.path(layout), output_loading_info=True)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
    assert_matches_reference(case, run(model, case))


@pytest.mark.parametrize("case_name", [name for name in CASES if Case(name).has_tf_reference])
def test_weight_names_equal_reference(case_name, tmp_path):
    """In the model, and in the files our saves write (h5: full names, in model order; safetensors: the names
    without the model's)."""
    case = Case(case_name)
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    assert in_reference_order(case_name, [w.path + ":0" for w in model.weights]) == case.meta["tf_weight_names"]
    # The model's scope: most names start with it (BART's `model.shared/...` and `final_logits_bias` do not).
    assert model.name == Counter(name.split("/")[0] for name in case.meta["tf_weight_names"]).most_common(1)[0][0]
    reference = [strip_model_name(name) + ":0" for name in case.meta["tf_weight_names"]]  # safetensors keys

    model.save_pretrained(tmp_path / "h5")
    groups = {}
    for path in (tmp_path / "h5" / "tf_model.h5", os.path.join(case.path("tf_h5"), "tf_model.h5")):
        with h5py.File(path, "r") as handle:
            groups[path] = {layer: list(load_attributes(handle[layer], "weight_names"))
                            for layer in load_attributes(handle, "layer_names")}
    ours, theirs = groups.values()
    saved = [name for names in ours.values() for name in names]
    # A tied weight is listed by each layer.
    assert in_reference_order(case_name, list(dict.fromkeys(saved))) == case.meta["tf_weight_names"]
    # The reference's loader reads each top-level layer's group: every weight must be in the group it expects
    # (the reference also writes empty groups for its weightless layers).
    assert {layer: sorted(names) for layer, names in ours.items() if names} == {
        layer: sorted(names) for layer, names in theirs.items() if names}
    model.save_pretrained(tmp_path / "safetensors", safe_serialization=True, weight_names="tf")
    header, metadata, _ = read_header(str(tmp_path / "safetensors" / "model.safetensors"))
    assert metadata == {"format": "tf"}
    assert sorted(header) == sorted(reference)


@pytest.mark.parametrize("case_name", ["bert_seqcls", "gpt2_lm"])
def test_no_labels_means_no_loss(case_name):
    case = Case(case_name)
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    output = run(model, case, with_labels=False)
    assert "loss" not in output
    for name in case.meta["outputs"]:
        if name != "loss":
            np.testing.assert_allclose(output[name], case.reference[name], atol=1e-5, rtol=0)
