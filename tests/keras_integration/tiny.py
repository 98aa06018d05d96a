"""Tiny models and labelled batches for every head, shared by the training tests."""

from __future__ import annotations

import numpy as np

import tfmodels

BERT = dict(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=20,
            max_position_embeddings=32, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
GPT2 = dict(vocab_size=50, n_embd=16, n_layer=2, n_head=2, n_positions=32, resid_pdrop=0.0, embd_pdrop=0.0,
            attn_pdrop=0.0, pad_token_id=0)
HEADS = ["TFBertForPreTraining", "TFBertForMaskedLM", "TFBertForNextSentencePrediction",
         "TFBertForSequenceClassification", "TFBertForMultipleChoice", "TFBertForTokenClassification",
         "TFBertForQuestionAnswering", "TFGPT2LMHeadModel", "TFGPT2ForSequenceClassification"]


def tiny_model(class_name: str, **config_overrides):
    """A tiny `class_name`: BERT and GPT-2 with the sizes above, other architectures from the shared model table
    (`tests/tfmodels/models/model_checks.py`)."""
    model_class = getattr(tfmodels, class_name)
    if model_class.config_class not in (tfmodels.BertConfig, tfmodels.GPT2Config):
        from tests.tfmodels.models.model_checks import architecture_of

        entry = architecture_of(class_name)
        return model_class(model_class.config_class(**{**entry.config, **config_overrides}))
    config_class = tfmodels.GPT2Config if "GPT2" in class_name else tfmodels.BertConfig
    defaults = GPT2 if "GPT2" in class_name else BERT
    labels = {} if "QuestionAnswering" in class_name else {"num_labels": 3}
    return getattr(tfmodels, class_name)(config_class(**{**defaults, **labels, **config_overrides}))


def tiny_batch(class_name: str, n: int = 16, seq: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs and labels (dict) for `class_name`, with a learnable pattern in the labels."""
    rng = np.random.default_rng(seed)
    shape = (n, 3, seq) if "MultipleChoice" in class_name else (n, seq)
    ids = rng.integers(1, 50, size=shape).astype(np.int32)
    batch = {"input_ids": ids, "attention_mask": np.ones(shape, np.int32)}
    token_labels = np.where(rng.random((n, seq)) < 0.3, ids.reshape(n, -1)[:, :seq], -100).astype(np.int32)
    if class_name == "TFBertForPreTraining":
        batch.update(labels=token_labels, next_sentence_label=(ids[:, 0] % 2).astype(np.int32))
    elif class_name == "TFBertForMaskedLM":
        batch.update(labels=token_labels)
    elif class_name == "TFBertForNextSentencePrediction":
        batch.update(next_sentence_label=(ids[:, 0] % 2).astype(np.int32))
    elif class_name in ("TFBertForSequenceClassification", "TFGPT2ForSequenceClassification"):
        batch.update(labels=(ids[:, 0] % 3).astype(np.int32))
    elif class_name == "TFBertForMultipleChoice":
        batch.update(labels=(ids[:, 0, 0] % 3).astype(np.int32))
    elif class_name == "TFBertForTokenClassification":
        batch.update(labels=np.where(rng.random((n, seq)) < 0.2, -100, ids % 3).astype(np.int32))
    elif class_name == "TFBertForQuestionAnswering":
        batch.update(start_positions=(ids[:, 0] % seq).astype(np.int32),
                     end_positions=(ids[:, 1] % seq).astype(np.int32))
    elif class_name == "TFGPT2LMHeadModel":
        batch.update(labels=ids)
    return batch
