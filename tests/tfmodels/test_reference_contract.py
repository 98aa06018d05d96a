"""Code written for the reference runs unchanged: every class's `call` takes the reference's parameters in the
reference's order (ours after them), and every output container has the reference's fields in its order.

The reference's signatures are in `tests/fixtures/reference/call_signatures.json`
(`tests/fixtures/dump_reference_signatures.py` wrote them from transformers 4.57's TF classes)."""

import inspect
import json
from pathlib import Path

import pytest

import tfmodels
import tfmodels.modeling_outputs
import tfmodels.seq2seq

REFERENCE = json.loads((Path(__file__).parents[1] / "fixtures" / "reference" / "call_signatures.json").read_text())
CLASSES = sorted(name for name in dir(tfmodels) if name.startswith("TF") and "PreTrained" not in name
                 and not name.startswith("TFAuto"))
# The reference has no TF Llama or Qwen2: they follow TFMistral's signature, as their PyTorch classes do.
STAND_INS = {"TFLlama": "TFMistral", "TFQwen2": "TFMistral"}
# Fields the reference lacks: a loss where its TF class computes none (PyTorch's class has it, first).
EXTRA_FIELDS = {"TFElectraForPreTrainingOutput": ["loss"], "TFGPT2DoubleHeadsModelOutput": ["loss"]}


def reference_parameters(name: str) -> list[str]:
    for ours, theirs in STAND_INS.items():
        if name.startswith(ours):
            name = name.replace(ours, theirs)
    return REFERENCE["call_parameters"][name]


def test_every_exported_class_has_a_reference_signature():
    assert len(CLASSES) == 72
    assert [name for name in CLASSES if reference_parameters(name) is None] == []


@pytest.mark.parametrize("name", CLASSES)
def test_call_takes_the_reference_parameters_in_order(name):
    ours = [p for p in inspect.signature(getattr(tfmodels, name).call).parameters if p != "self"]
    theirs = reference_parameters(name)
    assert ours[:len(theirs)] == theirs
    if "training" not in theirs:  # TFMistral's call has no `training`: ours comes right after its parameters
        assert ours[len(theirs)] == "training"
    allowed_extras = {"training", "cache_position", "labels", "mc_labels"}
    assert set(ours[len(theirs):]) <= allowed_extras


def output_classes():
    found = {}
    for module in (tfmodels.modeling_outputs, tfmodels.seq2seq):
        for key, value in vars(module).items():
            if isinstance(value, type) and key.startswith("TF") and key.endswith("Output"):
                found[key] = value
    return found


def fields_of(cls) -> list[str]:
    return list(cls._fields)


@pytest.mark.parametrize("name", sorted(output_classes()))
def test_output_fields_are_the_reference_ones_in_order(name):
    theirs = REFERENCE["output_fields"][name]
    assert fields_of(output_classes()[name]) == EXTRA_FIELDS.get(name, []) + theirs
