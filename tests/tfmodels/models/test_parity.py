"""Every reference case in every layout gives PyTorch's outputs; weight names equal the reference's."""

import numpy as np
import pytest

from tests.helpers import CASES, LAYOUTS, Case, assert_matches_reference, run


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case_name", CASES)
def test_fixture_outputs_match_pytorch(case_name, layout):
    case = Case(case_name)
    model, info = case.model_class.from_pretrained(case.path(layout), output_loading_info=True)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
    assert_matches_reference(case, run(model, case))


@pytest.mark.parametrize("case_name", CASES)
def test_weight_names_equal_reference(case_name):
    case = Case(case_name)
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    ours = [w.path.split("/", 1)[1] + ":0" for w in model.weights]
    reference = [name.split("/", 1)[1] for name in case.meta["tf_weight_names"]]
    assert ours == reference
    assert model.name == case.meta["tf_weight_names"][0].split("/")[0]


@pytest.mark.parametrize("case_name", ["bert_seqcls", "gpt2_lm"])
def test_no_labels_means_no_loss(case_name):
    case = Case(case_name)
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    output = run(model, case, with_labels=False)
    assert "loss" not in output
    for name in case.meta["outputs"]:
        if name != "loss":
            np.testing.assert_allclose(output[name], case.reference[name], atol=1e-5, rtol=0)
