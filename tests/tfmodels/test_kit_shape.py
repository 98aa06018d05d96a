"""The kit stays explicit and small (issue "The kit made explicit"): public classes are class statements a reader
can grep, every `call` is a method written out, shared blocks take few parameters, and no hidden state rides on
`__dict__` writes or context variables."""

import dataclasses
import importlib
import inspect
import os
import pkgutil
import re

import keras
import pytest

import tfmodels
import tfmodels.layers
from tfmodels.layers.transformer import LayerSpec
from tfmodels.tasks import TaskModel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLASSES = sorted(name for name in dir(tfmodels) if name.startswith("TF") and "PreTrained" not in name
                 and not name.startswith("TFAuto"))


def _sources() -> dict[str, str]:
    found = {}
    for root, _, files in os.walk(os.path.join(ROOT, "tfmodels")):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                found[os.path.relpath(path, ROOT)] = open(path, encoding="utf-8").read()
    return found


@pytest.mark.parametrize("name", CLASSES)
def test_every_model_class_is_a_class_statement_with_a_written_call(name):
    cls = getattr(tfmodels, name)
    module_source = inspect.getsource(importlib.import_module(cls.__module__))
    assert re.search(rf"^class {name}\(", module_source, re.M), f"grep 'class {name}(' finds nothing"
    assert cls.__doc__ and cls.__doc__ is vars(cls).get("__doc__")  # its own docstring
    call = cls.call
    assert not hasattr(call, "__signature__")  # not a generated signature
    assert re.match(r"\s*@unpack_inputs\n\s*def call\(self, ", inspect.getsource(call))
    owner = next(klass for klass in cls.__mro__ if "call" in vars(klass))
    assert owner.__module__.startswith("tfmodels.")


def test_no_class_is_made_with_type_and_no_lookup_hides_behind_getattr():
    for path, text in _sources().items():
        assert not re.search(r"\btype\(\s*\w+\s*,\s*\(", text), f"{path} makes a class with type()"
    assert "__getattr__" not in vars(TaskModel)
    sizes = dict(vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8)
    bert = tfmodels.TFBertForSequenceClassification(tfmodels.BertConfig(**sizes))
    assert bert.classifier is bert.classifier_head.classifier and bert.classifier.kernel.path.endswith(
        "classifier/kernel")  # the reference's Dense
    with pytest.raises(AttributeError, match="has no attribute 'qa_outputs'"):
        bert.qa_outputs
    with pytest.raises(AttributeError, match=r"no head layer 'mlm'; its heads' checkpoint paths are \['classifier'\]"):
        bert.mlm
    roberta = tfmodels.TFRobertaForMaskedLM(tfmodels.RobertaConfig(**sizes))
    assert roberta.lm_head is roberta.lm_head_layer  # the whole head (dense, norm, tied decoder, bias)
    distilbert = tfmodels.TFDistilBertForSequenceClassification(tfmodels.DistilBertConfig(
        vocab_size=10, dim=8, n_layers=1, n_heads=2, hidden_dim=8))
    assert distilbert.pre_classifier.kernel.path.endswith("pre_classifier/kernel")


def test_state_lives_in_objects_not_in_dict_writes_or_context_variables():
    for path, text in _sources().items():
        writes = re.findall(r"__dict__(?:\[[^\]]+\]\s*=|\.setdefault|\.pop|\.update)", text)
        assert writes == [], f"{path} writes into an object's __dict__: {writes}"
    context_variables = {path: re.findall(r"ContextVar\(\s*\"(\w+)\"", text) for path, text in _sources().items()}
    # One flag, not keyed by any object: skip the random draws of weights a load overwrites.
    assert {path: names for path, names in context_variables.items() if names} == {
        os.path.join("tfmodels", "layers", "core.py"): ["skip_random_init"]}


def _shared_blocks():
    for module in pkgutil.iter_modules(tfmodels.layers.__path__):
        namespace = vars(importlib.import_module(f"tfmodels.layers.{module.name}"))
        for name, obj in namespace.items():
            if (isinstance(obj, type) and issubclass(obj, keras.layers.Layer) and obj.__module__.endswith(module.name)
                    and "call" in vars(obj)):
                yield name, obj


def test_shared_blocks_take_few_parameters_and_layer_spec_does_not_grow():
    blocks = dict(_shared_blocks())
    assert {"SelfAttention", "CrossAttention", "TransformerLayer", "TransformerStack"} <= set(blocks)
    counts = {name: len(inspect.signature(block.call).parameters) - 1 for name, block in blocks.items()
              if not name.endswith("Backbone")}  # backbones take a model's inputs, as the reference's main layers
    assert max(counts.values()) <= 7, counts
    assert counts["SelfAttention"] <= 5 and counts["CrossAttention"] <= 3 and counts["TransformerLayer"] <= 6
    assert len(dataclasses.fields(LayerSpec)) <= 22


def test_the_kit_reaches_private_keras_through_its_own_module():
    for path, text in _sources().items():
        if path != os.path.join("tfmodels", "keras_private.py"):
            assert "keras_integration.keras_private" not in text and "keras_integration import keras_private" \
                not in text, path
