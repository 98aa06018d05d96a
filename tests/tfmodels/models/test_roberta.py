"""RoBERTa, XLM-RoBERTa and CamemBERT: the reference fixtures (outputs, weight names, saves) and every class
without a fixture against transformers' PyTorch model built from the same tiny config."""

import numpy as np
import pytest
import torch
import transformers

import tfmodels
from tests.helpers import Case

FIXTURE_CASES = ["roberta_mlm", "roberta_seqcls", "xlm_roberta_tokcls"]
PREFIXES = {"Roberta": "roberta", "XLMRoberta": "xlm-roberta", "Camembert": "camembert"}
TASKS = ["Model", "ForMaskedLM", "ForCausalLM", "ForSequenceClassification", "ForTokenClassification",
         "ForQuestionAnswering", "ForMultipleChoice"]
WITH_FIXTURE = {Case(name).meta["tf_class"] for name in FIXTURE_CASES}
TINY = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=64)
PAD = 1  # RoBERTa's pad_token_id: padding keeps position 1, tokens count from 2


def test_configs_have_the_reference_defaults():
    for prefix, model_type in PREFIXES.items():
        ours, reference = getattr(tfmodels, f"{prefix}Config")(), getattr(transformers, f"{prefix}Config")()
        assert ours.model_type == reference.model_type == model_type
        for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                    "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings",
                    "type_vocab_size", "initializer_range", "layer_norm_eps", "pad_token_id", "bos_token_id",
                    "eos_token_id", "use_cache", "classifier_dropout", "is_decoder", "add_cross_attention"):
            assert getattr(ours, key) == getattr(reference, key), (prefix, key)
    assert tfmodels.RobertaConfig().vocab_size == 50265 and tfmodels.XLMRobertaConfig().vocab_size == 30522


def test_auto_classes_map_as_the_reference():
    expected = {
        "TFAutoModel": "Model", "TFAutoModelForPreTraining": "ForMaskedLM", "TFAutoModelForMaskedLM": "ForMaskedLM",
        "TFAutoModelForCausalLM": "ForCausalLM", "TFAutoModelForSequenceClassification": "ForSequenceClassification",
        "TFAutoModelForTokenClassification": "ForTokenClassification",
        "TFAutoModelForQuestionAnswering": "ForQuestionAnswering", "TFAutoModelForMultipleChoice": "ForMultipleChoice",
    }
    for auto, task in expected.items():
        mapping = getattr(tfmodels, auto).mapping()
        for prefix, model_type in PREFIXES.items():
            assert mapping[model_type] == f"TF{prefix}{task}", (auto, model_type)
    assert "roberta" not in tfmodels.TFAutoModelForNextSentencePrediction.mapping()
    model = tfmodels.TFAutoModelForCausalLM.from_config(tfmodels.AutoConfig.for_model("camembert", **TINY))
    assert type(model) is tfmodels.TFCamembertForCausalLM and model.roberta.embeddings.padding_idx == PAD


def test_positions_skip_padding():
    model = tfmodels.TFRobertaModel(tfmodels.RobertaConfig(**TINY))
    ids = np.array([[0, 5, 6, PAD, PAD], [PAD, 7, PAD, 8, 9]], np.int32)
    positions = model.roberta.embeddings.position_ids(ids, model.roberta.embeddings.word_embeddings(ids))
    np.testing.assert_array_equal(positions, [[2, 3, 4, 1, 1], [1, 2, 1, 3, 4]])


def _labels(task: str, rng) -> dict:
    if task in ("ForMaskedLM", "ForCausalLM", "ForTokenClassification"):
        labels = rng.integers(0, 3 if task == "ForTokenClassification" else 99, (3, 11))
        return {"labels": np.where(rng.random((3, 11)) < 0.3, -100, labels)}
    if task == "ForSequenceClassification":
        return {"labels": np.array([2, 0, 1])}
    if task == "ForMultipleChoice":
        return {"labels": np.array([3, 0, 1])}
    if task == "ForQuestionAnswering":
        return {"start_positions": np.array([1, 4, 7]), "end_positions": np.array([2, 9, 7])}
    return {}


OUTPUTS = {"Model": ["last_hidden_state", "pooler_output"], "ForQuestionAnswering": ["start_logits", "end_logits"]}
NO_FIXTURE = [f"TF{prefix}{task}" for prefix in PREFIXES for task in TASKS if f"TF{prefix}{task}" not in WITH_FIXTURE]


@pytest.mark.parametrize("tf_class", NO_FIXTURE)
def test_class_matches_pytorch(tf_class, tmp_path):
    prefix = next(p for p in sorted(PREFIXES, key=len, reverse=True) if tf_class.startswith(f"TF{p}"))
    task = tf_class[len(f"TF{prefix}"):]
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    num_labels = 2 if task == "ForQuestionAnswering" else 3
    pt_config = getattr(transformers, f"{prefix}Config")(**TINY, num_labels=num_labels,
                                                         is_decoder=task == "ForCausalLM")
    pt_model = getattr(transformers, tf_class[2:])(pt_config).eval()
    pt_model.save_pretrained(tmp_path)
    shape = (3, 4, 11) if task == "ForMultipleChoice" else (3, 11)
    ids = rng.integers(3, 99, size=shape).astype(np.int32)
    mask = np.ones(shape, np.int32)
    mask[1:, ..., -3:] = 0
    ids[mask == 0] = PAD  # right padding with the pad id, which the positions skip
    labels = _labels(task, rng)
    with torch.no_grad():
        pt_out = pt_model(input_ids=torch.tensor(ids, dtype=torch.long), attention_mask=torch.tensor(mask),
                          **{k: torch.tensor(v, dtype=torch.long) for k, v in labels.items()})
    model, info = getattr(tfmodels, tf_class).from_pretrained(tmp_path, output_loading_info=True)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
    out = model({"input_ids": ids, "attention_mask": mask, **labels})
    for name in OUTPUTS.get(task, ["logits"]):
        np.testing.assert_allclose(out[name], getattr(pt_out, name).numpy(), atol=1e-5, rtol=0, err_msg=name)
    if labels:
        np.testing.assert_allclose(np.mean(out["loss"]), pt_out.loss.numpy(), atol=1e-5, rtol=0)


def test_causal_lm_generate_equals_pytorch_greedy_forward(tmp_path):
    """The cached `generate()` (positions offset past the padding id, left padding) gives PyTorch's greedy tokens
    computed by full forward passes. (PyTorch's own `generate` passes positions from 0, not RoBERTa's.)"""
    torch.manual_seed(0)
    pt_model = transformers.RobertaForCausalLM(transformers.RobertaConfig(**TINY, is_decoder=True)).eval()
    pt_model.save_pretrained(tmp_path)
    ids = np.random.default_rng(0).integers(3, 99, (2, 6)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[1, :2], ids[1, :2] = 0, PAD
    sequence, pt_mask = torch.tensor(ids, dtype=torch.long), torch.tensor(mask)
    with torch.no_grad():
        for _ in range(8):
            token = pt_model(sequence, attention_mask=pt_mask).logits[:, -1].argmax(-1, keepdim=True)
            sequence, pt_mask = torch.cat([sequence, token], 1), torch.cat([pt_mask, torch.ones_like(token)], 1)
    model = tfmodels.TFRobertaForCausalLM.from_pretrained(tmp_path)
    ours = model.generate(ids, attention_mask=mask, max_new_tokens=8, pad_token_id=PAD)
    np.testing.assert_array_equal(np.asarray(ours), sequence.numpy())
