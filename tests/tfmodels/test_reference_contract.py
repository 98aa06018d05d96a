"""Code written for the reference runs unchanged: every class's `call` takes the reference's parameters in the
reference's order (ours after them), and every output container has the reference's fields in its order.

The reference's signatures are in `tests/fixtures/reference_contract/call_signatures.json`
(`dump_reference_signatures.py` there wrote them from transformers 4.57's TF classes)."""

import inspect
import json
from pathlib import Path

import pytest

import tfmodels
import tfmodels.modeling_outputs
import tfmodels.seq2seq

FIXTURES = Path(__file__).parents[1] / "fixtures" / "reference_contract"
REFERENCE = json.loads((FIXTURES / "call_signatures.json").read_text())
CLASSES = sorted(name for name in dir(tfmodels) if name.startswith("TF") and "PreTrained" not in name
                 and not name.startswith("TFAuto"))
# The reference has no TF class for the LLM families after Mistral: they follow TFMistral's signature, as their
# PyTorch classes follow MistralForCausalLM's, Mixtral's bare and causal-LM classes with PyTorch's
# `output_router_logits` after `output_hidden_states`.
STAND_INS = {prefix: "TFMistral" for prefix in ("TFLlama", "TFQwen2", "TFQwen3", "TFGemma3Text", "TFGemma3",
                                                  "TFGemma2", "TFGemma", "TFPhi3", "TFMixtral")}
ROUTER_LOGITS = ("TFMixtralModel", "TFMixtralForCausalLM")
# Fields the reference lacks: a loss where its TF class computes none (PyTorch's class has it, first).
EXTRA_FIELDS = {"TFElectraForPreTrainingOutput": ["loss"], "TFGPT2DoubleHeadsModelOutput": ["loss"]}
# Outputs of classes the reference had only in PyTorch: transformers 4's fields (transformers 5 renames
# `past_key_values` to `cache`).
PYTORCH_FIELDS = {
    "TFMoeModelOutputWithPast": ["last_hidden_state", "past_key_values", "hidden_states", "attentions",
                                 "router_logits"],
    "TFMoeCausalLMOutputWithPast": ["loss", "aux_loss", "logits", "past_key_values", "hidden_states", "attentions",
                                    "router_logits"],
}


def reference_parameters(name: str) -> list[str]:
    reference = name
    for ours, theirs in STAND_INS.items():
        if name.startswith(ours):
            reference = name.replace(ours, theirs)
            break
    parameters = list(REFERENCE["call_parameters"][reference])
    if name in ROUTER_LOGITS:
        parameters.insert(parameters.index("output_hidden_states") + 1, "output_router_logits")
    return parameters


def test_every_exported_class_has_a_reference_signature():
    assert len(CLASSES) == 103
    assert [name for name in CLASSES if reference_parameters(name) is None] == []


@pytest.mark.parametrize("name", CLASSES)
def test_call_takes_the_reference_parameters_in_order(name):
    ours = [p for p in inspect.signature(getattr(tfmodels, name).call).parameters if p != "self"]
    theirs = reference_parameters(name)
    assert ours[:len(theirs)] == theirs
    if "training" not in theirs:  # TFMistral's call has no `training`: ours comes right after its parameters
        assert ours[len(theirs)] == "training"
    allowed_extras = {"training", "cache_position", "labels", "mc_labels", "interpolate_pos_encoding"}
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
    theirs = PYTORCH_FIELDS[name] if name in PYTORCH_FIELDS else REFERENCE["output_fields"][name]
    assert fields_of(output_classes()[name]) == EXTRA_FIELDS.get(name, []) + theirs


def test_pytorch_output_fields_are_transformers_5_s_but_for_the_cache_s_name():
    import dataclasses

    import transformers.modeling_outputs

    for name, fields in PYTORCH_FIELDS.items():
        theirs = [f.name for f in dataclasses.fields(getattr(transformers.modeling_outputs, name[2:]))]
        assert theirs == ["cache" if field == "past_key_values" else field for field in fields]


# ---- encoder-decoders as the reference's code drives them ------------------------------------------------------
# `tests/fixtures/reference_contract/make_contract_fixtures.py` saved tiny BART and T5 models with the reference
# and its outputs.
import numpy as np  # noqa: E402


SEQ2SEQ = {"bart": (tfmodels.TFBartModel, tfmodels.TFBartForConditionalGeneration),
           "t5": (tfmodels.TFT5Model, tfmodels.TFT5ForConditionalGeneration)}


@pytest.fixture(scope="module", params=sorted(SEQ2SEQ))
def seq2seq(request):
    arch = request.param
    reference = np.load(FIXTURES / arch / "contract.npz")
    base_class, lm_class = SEQ2SEQ[arch]
    return arch, reference, base_class.from_pretrained(FIXTURES / arch), lm_class.from_pretrained(FIXTURES / arch)


def _inputs(reference) -> dict:
    return {name: reference[name] for name in ("input_ids", "attention_mask", "decoder_input_ids")}


def test_head_masks_of_each_attention_kind_as_the_reference(seq2seq):
    """`head_mask` (encoder), `decoder_head_mask` (decoder self-attention) and BART's `cross_attn_head_mask`,
    alone and together, give the reference's outputs; T5's decoder defaults to `head_mask` as the reference's."""
    arch, reference, base, lm = seq2seq
    unmasked = {"base": base(**_inputs(reference))[0].numpy(), "lm": lm(**_inputs(reference))[0].numpy()}
    keys = [key for key in reference.files if key.startswith(("base/", "lm/"))]
    assert len(keys) == (8 if arch == "bart" else 6)
    for key in keys:
        kind, combo = key.split("/")
        model = base if kind == "base" else lm
        out = model(**_inputs(reference), **{name: reference[name] for name in combo.split("+")})[0].numpy()
        np.testing.assert_allclose(out, reference[key], atol=2e-6, rtol=0, err_msg=key)
        assert np.abs(out - unmasked[kind]).max() > 1e-3, key  # each mask changes the outputs


def test_past_key_values_hold_four_tensors_per_layer_and_feed_back(seq2seq):
    _, reference, _, lm = seq2seq
    ids, mask, decoder_ids = (reference[name] for name in ("input_ids", "attention_mask", "decoder_input_ids"))
    first = lm(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids[:, :3], use_cache=True)
    assert len(first.past_key_values) == 2
    for layer, tensors in enumerate(first.past_key_values):
        assert len(tensors) == 4
        for slot, tensor in enumerate(tensors):
            np.testing.assert_allclose(tensor, reference[f"past/{layer}/{slot}"], atol=1e-6, rtol=0)
    expected = reference["past/next_logits"]
    ours = lm(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids[:, 3:],
              past_key_values=first.past_key_values).logits
    np.testing.assert_allclose(ours, expected, atol=1e-6, rtol=0)
    # The reference's own cache (numpy arrays, tuples of 4) is accepted too.
    theirs = tuple(tuple(reference[f"past/{layer}/{slot}"] for slot in range(4)) for layer in range(2))
    np.testing.assert_allclose(lm(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids[:, 3:],
                                  past_key_values=theirs).logits, expected, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match=r"4 tensors \(self-attention key and value, cross-attention key and "
                                         r"value\).*received \[3, 3\]"):
        lm(input_ids=ids, decoder_input_ids=decoder_ids[:, 3:], past_key_values=[t[:3] for t in theirs])


def test_get_encoder_and_get_decoder_are_called_as_the_reference(seq2seq):
    arch, reference, _, lm = seq2seq
    ids, mask, decoder_ids = (reference[name] for name in ("input_ids", "attention_mask", "decoder_input_ids"))
    encoded = lm.get_encoder()(input_ids=ids, attention_mask=mask)
    np.testing.assert_allclose(encoded.last_hidden_state, reference["encoder/last_hidden_state"], atol=1e-6)
    decoded = lm.get_decoder()(decoder_ids, attention_mask=None, encoder_hidden_states=encoded.last_hidden_state,
                               encoder_attention_mask=mask, use_cache=True)
    np.testing.assert_allclose(decoded.last_hidden_state, reference["decoder/last_hidden_state"], atol=1e-6)
    shapes = [[list(tensor.shape) for tensor in layer] for layer in decoded.past_key_values]
    assert shapes == reference["decoder/past_shapes"].tolist()
    # The reference's parameter order: BART's encoder and decoder take inputs_embeds second; T5's stacks are
    # TFT5MainLayer (attention_mask second).
    encoder_parameters = list(inspect.signature(lm.get_encoder().__call__).parameters)
    decoder_parameters = list(inspect.signature(lm.get_decoder().__call__).parameters)
    if arch == "bart":
        assert encoder_parameters[:4] == ["input_ids", "inputs_embeds", "attention_mask", "head_mask"]
        assert decoder_parameters[:8] == ["input_ids", "inputs_embeds", "attention_mask", "position_ids",
                                          "encoder_hidden_states", "encoder_attention_mask", "head_mask",
                                          "cross_attn_head_mask"]
    else:
        assert encoder_parameters == decoder_parameters
        assert decoder_parameters[:7] == ["input_ids", "attention_mask", "encoder_hidden_states",
                                          "encoder_attention_mask", "inputs_embeds", "head_mask",
                                          "encoder_head_mask"]
        with pytest.raises(ValueError, match=r"T5 encoder attends to its own inputs only.*encoder_hidden_states"):
            lm.get_encoder()(ids, encoder_hidden_states=encoded.last_hidden_state)
    assert len(lm.get_decoder().layer) == 2  # the decoder's layers, as before
