"""Shared test helpers: the reference fixtures and the checks every model must pass."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "reference")
with open(os.path.join(FIXTURES, "index.json")) as _index:
    INDEX = json.load(_index)
CASES = INDEX["cases"]


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

    @property
    def layouts(self) -> list[str]:
        """The checkpoint folders of this case (`case.json`'s `layouts`)."""
        return self.meta["layouts"]

    def path(self, layout: str) -> str:
        return os.path.join(self.root, layout)

    def copy(self, layout: str, destination: str) -> str:
        target = os.path.join(destination, f"{self.name}_{layout}")
        shutil.copytree(self.path(layout), target)
        return target

    @property
    def class_name(self) -> str:
        """Our class for the case: the reference's TF class, or for an architecture the reference had only in
        PyTorch (`tf_class` null: Llama), `TF` + its PyTorch class."""
        return self.meta["tf_class"] or "TF" + self.meta["pt_class"]

    @property
    def has_tf_reference(self) -> bool:
        """Whether the reference wrote TF checkpoints for the case (its TF weight names are then known)."""
        return self.meta["tf_class"] is not None

    @property
    def model_class(self):
        import tfmodels

        return getattr(tfmodels, self.class_name)


def case_layouts() -> list[tuple[str, str]]:
    """Every `(case, layout)` pair the fixtures hold, for `pytest.mark.parametrize`."""
    return [(name, layout) for name in CASES for layout in Case(name).layouts]


def assert_matches_reference(case: Case, output, atol: float = 1e-5) -> None:
    """Every reference output (the loss mean; hidden states stacked, embeddings first: `hidden_states`, and an
    encoder-decoder's `encoder_hidden_states` and `decoder_hidden_states`) within `atol` of PyTorch's."""
    for name in case.meta["outputs"]:
        expected = case.reference[name]
        stacked = name.endswith("hidden_states")
        got = np.stack([np.asarray(h) for h in output[name]]) if stacked else np.asarray(output[name])
        if name == "loss":
            np.testing.assert_allclose(np.mean(got), expected, atol=atol, rtol=0, err_msg=f"{case.name}: loss")
        else:
            assert got.shape == expected.shape, (case.name, name, got.shape, expected.shape)
            np.testing.assert_allclose(got, expected, atol=atol, rtol=0, err_msg=f"{case.name}: {name}")


def run(model, case: Case, with_labels: bool = True):
    """The model on the case's inputs (and labels), with hidden states when the reference has them."""
    hidden = any(name.endswith("hidden_states") for name in case.meta["outputs"])
    flags = {"output_hidden_states": True} if hidden else {}
    flags.update(case.meta.get("call_kwargs") or {})  # what the reference was called with (CLIP's return_loss)
    return model({**case.inputs, **(case.labels if with_labels else {})}, **flags)


# Whisper's encoder positions: created by the reference's TF layer when first called, so listed last (the model's
# own order keeps them with the encoder; files are read by name).
LAZY_REFERENCE_WEIGHTS = {name: "/encoder/embed_positions/weight:0" for name in ("whisper_base", "whisper_lm")}


def in_reference_order(case_name: str, names: list[str]) -> list[str]:
    """Weight names in the reference's order: as they are, but the weights it creates lazily moved last."""
    lazy = LAZY_REFERENCE_WEIGHTS.get(case_name)
    if lazy is None:
        return names
    return [name for name in names if not name.endswith(lazy)] + [name for name in names if name.endswith(lazy)]


def outputs_equal(first, second) -> None:
    assert list(first.keys()) == list(second.keys())
    for key in first:
        if isinstance(first[key], dict):  # a tower's own outputs (CLIP's text_model_output)
            outputs_equal(first[key], second[key])
        elif key == "past_key_values":  # per layer; a layer's tensors may differ in length (self, cross)
            assert len(first[key]) == len(second[key])
            for layer_a, layer_b in zip(first[key], second[key]):
                pairs = zip(layer_a, layer_b) if isinstance(layer_a, (tuple, list)) else [(layer_a, layer_b)]
                for a, b in pairs:
                    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        else:
            np.testing.assert_array_equal(np.asarray(first[key]), np.asarray(second[key]))


def random_ids_and_mask(shape, rng) -> tuple[np.ndarray, np.ndarray]:
    """Token ids in [1, 98) of `shape` and a mask whose rows (but the first) end with 3 padding positions, for
    comparisons with PyTorch on random weights."""
    ids = rng.integers(1, 98, size=shape).astype(np.int32)
    mask = np.ones(shape, np.int32)
    mask[..., -3:] = 0
    mask[0, ...] = 1
    return ids, mask


def assert_matches_pytorch_model(tf_class: str, pt_model, directory, ids, mask, labels: dict, outputs: list[str]):
    """Load `directory` (where `pt_model`'s checkpoint was saved) into our `tf_class` and compare, on `ids` and
    `mask` with `labels`, the loading info (all empty), `outputs`, every hidden state (an encoder-decoder's encoder
    and decoder states) and the loss (ours per example, their mean PyTorch's) within 1e-5. Returns our model."""
    import torch

    import tfmodels

    with torch.no_grad():
        expected = pt_model(input_ids=torch.tensor(ids, dtype=torch.long), attention_mask=torch.tensor(mask),
                            output_hidden_states=True, **{k: torch.tensor(v) for k, v in labels.items()})
    model, info = getattr(tfmodels, tf_class).from_pretrained(directory, output_loading_info=True)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
    out = model({"input_ids": ids, "attention_mask": mask, **labels}, output_hidden_states=True)
    for name in outputs:
        np.testing.assert_allclose(out[name], getattr(expected, name).numpy(), atol=1e-5, rtol=0, err_msg=name)
    stacks = [name for name in ("hidden_states", "encoder_hidden_states", "decoder_hidden_states")
              if getattr(expected, name, None) is not None]  # an encoder-decoder has the last two
    assert stacks
    for name in stacks:
        np.testing.assert_allclose(np.stack(out[name]), np.stack([h.numpy() for h in getattr(expected, name)]),
                                   atol=1e-5, rtol=0, err_msg=name)
    if labels:
        np.testing.assert_allclose(np.mean(out["loss"]), expected.loss.numpy(), atol=1e-5, rtol=0)
    return model
