"""Shared test helpers: the reference fixtures and the checks every model must pass."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "reference")
CASES = json.load(open(os.path.join(FIXTURES, "index.json")))["cases"]
LAYOUTS = ["tf_h5", "tf_sharded_h5", "tf_safetensors", "pt_bin", "pt_safetensors", "pt_sharded_bin",
           "pt_sharded_safetensors"]


class Case:
    """One reference case: its metadata, inputs, labels and reference outputs."""

    def __init__(self, name: str):
        self.name = name
        self.root = os.path.join(FIXTURES, name)
        with open(os.path.join(self.root, "case.json")) as handle:
            self.meta = json.load(handle)
        io = np.load(os.path.join(self.root, "io.npz"))
        self.inputs = {k[len("input."):]: io[k] for k in io.files if k.startswith("input.")}
        self.labels = {k[len("label."):]: io[k] for k in io.files if k.startswith("label.")}
        self.reference = {k[len("pt."):]: io[k] for k in io.files if k.startswith("pt.")}

    def path(self, layout: str) -> str:
        return os.path.join(self.root, layout)

    def copy(self, layout: str, destination: str) -> str:
        target = os.path.join(destination, f"{self.name}_{layout}")
        shutil.copytree(self.path(layout), target)
        return target

    @property
    def model_class(self):
        import tfmodels

        return getattr(tfmodels, self.meta["tf_class"])


def assert_matches_reference(case: Case, output, atol: float = 1e-5) -> None:
    """Every reference output (and the loss mean) within `atol` of PyTorch's."""
    for name in case.meta["outputs"]:
        expected = case.reference[name]
        got = np.asarray(output[name])
        if name == "loss":
            np.testing.assert_allclose(np.mean(got), expected, atol=atol, rtol=0, err_msg=f"{case.name}: loss")
        else:
            assert got.shape == expected.shape, (case.name, name, got.shape, expected.shape)
            np.testing.assert_allclose(got, expected, atol=atol, rtol=0, err_msg=f"{case.name}: {name}")


def run(model, case: Case, with_labels: bool = True):
    return model({**case.inputs, **(case.labels if with_labels else {})})


def outputs_equal(first, second) -> None:
    assert list(first.keys()) == list(second.keys())
    for key in first:
        if key == "past_key_values":
            for a, b in zip(first[key], second[key]):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        else:
            np.testing.assert_array_equal(np.asarray(first[key]), np.asarray(second[key]))
