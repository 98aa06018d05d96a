"""The table of architectures every model check runs over, with tiny models and labelled batches for each class.

Adding an architecture: its fixture cases go to `tests/fixtures/reference/` (and `index.json`, for the parity test
in `test_parity.py`), and one `Architecture` entry goes to `ARCHITECTURES` below. `test_every_model.py` then runs
its checks (save/load, `.keras`, `fit`, `evaluate`, serving export, resizing, pruning) on the entry's classes that
`tfmodels` exports; a family member (`family=`: classes subclassing another architecture's) runs the training,
serving and surgery checks on its first head only.

Example:
    >>> model = tiny_model("TFBertForMaskedLM")
    >>> inputs, labels = tiny_batch(model)
    >>> model({**inputs, **labels}).loss
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras
import numpy as np

import tfmodels
from tfmodels.seq2seq import shift_tokens_right

BATCH, SEQUENCE, CHOICES, NUM_LABELS = 4, 8, 3, 3
# Tiny models need tiny shards: several shards per checkpoint in the sharded formats.
SAVE_FORMATS = {
    "h5": {},
    "sharded_h5": {"max_shard_size": "8KB"},
    "safetensors": {"safe_serialization": True},  # the PyTorch layout
    "sharded_safetensors": {"safe_serialization": True, "max_shard_size": "8KB"},
    "tf_safetensors": {"safe_serialization": True, "weight_names": "tf"},
}
# The kind of task of a class, from the end of its name; longer suffixes first ("LMHeadModel" ends with "Model").
TASKS = {
    "DoubleHeadsModel": "double_heads",
    "LMHeadModel": "causal_lm",
    "ForConditionalGeneration": "seq2seq_lm",
    "ForCausalLM": "causal_lm",
    "ForMaskedLM": "masked_lm",
    "ForPreTraining": "pretraining",
    "ForNextSentencePrediction": "next_sentence_prediction",
    "ForSequenceClassification": "sequence_classification",
    "ForTokenClassification": "token_classification",
    "ForQuestionAnswering": "question_answering",
    "ForMultipleChoice": "multiple_choice",
    "ForImageClassification": "image_classification",
    "EncoderModel": "encoder",  # an encoder-decoder's encoder alone (T5): checked as a bare model
    "CLIPModel": "contrastive",  # texts and images in one space, the contrastive loss its own
    "Model": "base",
}
# What `...ForPreTraining` learns: the label arguments it takes, by architecture family.
PRETRAINING_TASKS = {
    "masked_lm+next_sentence": ("labels", "next_sentence_label"),
    "masked_lm+sentence_order": ("labels", "sentence_order_label"),
    "replaced_token_detection": ("labels",),  # one 0/1 label per token (ELECTRA's discriminator)
}


@dataclasses.dataclass(frozen=True)
class Architecture:
    """One architecture: its config class (a `tfmodels` name), the kwargs of a tiny config (no dropout, so that
    training is deterministic), its TF classes, what it supports, and its reference fixture cases
    (`{case: tf_class}`, the cases `test_parity.py` compares with PyTorch)."""

    config_class: str
    config: dict[str, Any]
    classes: tuple[str, ...]
    token_type_ids: bool
    pruning: bool
    resizing: bool
    pretraining: str | None = None  # a key of PRETRAINING_TASKS when `classes` has a `...ForPreTraining`
    cases: dict[str, str] = dataclasses.field(default_factory=dict)
    family: str | None = None  # the architecture whose classes this one's subclass (Mistral: "llama")


def _classes(prefix: str, *suffixes: str) -> tuple[str, ...]:
    return tuple(f"TF{prefix}{suffix}" for suffix in suffixes)


_ENCODER_HEADS = ("ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering", "ForMultipleChoice")
_ROBERTA_HEADS = ("Model", "ForMaskedLM", "ForCausalLM") + _ENCODER_HEADS
_BERT_LIKE = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=20,
                  hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
# RoBERTa positions start after the padding id (pad_token_id + 1), so max positions >= sequence + 2.
_ROBERTA = dict(_BERT_LIKE, vocab_size=64, max_position_embeddings=SEQUENCE + 24, pad_token_id=1, bos_token_id=0,
                eos_token_id=2, type_vocab_size=1)

# The Llama family: grouped-query attention (4 query heads on 2 key/value heads), head_dim 4.
_LLAMA_HEADS = ("Model", "ForCausalLM", "ForSequenceClassification")
_LLAMA = dict(vocab_size=64, hidden_size=16, intermediate_size=24, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=32, pad_token_id=0, bos_token_id=1, eos_token_id=2)

# 30 x 30 images in 6 x 6 patches: a class token and 25 patches.
_VIT = dict(image_size=30, patch_size=6, num_channels=3, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=20)

# CLIP's towers as `_VIT`'s images and a 64-token vocabulary (end of text: the legacy rule, each row's highest id).
_CLIP_TEXT = dict(vocab_size=64, hidden_size=16, intermediate_size=20, num_hidden_layers=2, num_attention_heads=2,
                  max_position_embeddings=SEQUENCE, bos_token_id=0, pad_token_id=1, eos_token_id=2)
_CLIP_VISION = dict(_VIT)

_T5 = dict(vocab_size=64, d_model=16, d_kv=6, d_ff=20, num_layers=2, num_heads=2, relative_attention_num_buckets=8,
           relative_attention_max_distance=16, dropout_rate=0.0, feed_forward_proj="gated-gelu",
           tie_word_embeddings=False)

ARCHITECTURES: dict[str, Architecture] = {
    "bert": Architecture(
        "BertConfig", dict(_BERT_LIKE, vocab_size=64, max_position_embeddings=32),
        _classes("Bert", "Model", "ForPreTraining", "ForMaskedLM", "LMHeadModel", "ForNextSentencePrediction",
                 *_ENCODER_HEADS),
        token_type_ids=True, pruning=True, resizing=True, pretraining="masked_lm+next_sentence",
        cases={"bert_base": "TFBertModel", "bert_mlm": "TFBertForMaskedLM",
               "bert_seqcls": "TFBertForSequenceClassification", "bert_tokcls": "TFBertForTokenClassification",
               "bert_qa": "TFBertForQuestionAnswering"},
    ),
    "gpt2": Architecture(
        "GPT2Config", dict(vocab_size=64, n_embd=16, n_layer=2, n_head=2, n_positions=32, resid_pdrop=0.0,
                           embd_pdrop=0.0, attn_pdrop=0.0, summary_first_dropout=0.0, pad_token_id=0),
        _classes("GPT2", "Model", "LMHeadModel", "DoubleHeadsModel", "ForSequenceClassification"),
        token_type_ids=False, pruning=False, resizing=True,  # GPT-2 serves input_ids and attention_mask only
        cases={"gpt2_base": "TFGPT2Model", "gpt2_lm": "TFGPT2LMHeadModel"},
    ),
    # The RoBERTa family takes token_type_ids (all zeros, type_vocab_size=1), as the reference's signatures do.
    "roberta": Architecture(
        "RobertaConfig", _ROBERTA, _classes("Roberta", *_ROBERTA_HEADS),
        token_type_ids=True, pruning=True, resizing=True,
        cases={"roberta_mlm": "TFRobertaForMaskedLM", "roberta_seqcls": "TFRobertaForSequenceClassification"},
    ),
    "xlm-roberta": Architecture(
        "XLMRobertaConfig", _ROBERTA, _classes("XLMRoberta", *_ROBERTA_HEADS),
        token_type_ids=True, pruning=True, resizing=True,
        cases={"xlm_roberta_tokcls": "TFXLMRobertaForTokenClassification"}, family="roberta",
    ),
    "camembert": Architecture(
        "CamembertConfig", _ROBERTA, _classes("Camembert", *_ROBERTA_HEADS),
        token_type_ids=True, pruning=True, resizing=True, family="roberta",
    ),
    "distilbert": Architecture(
        "DistilBertConfig", dict(vocab_size=64, dim=16, n_layers=2, n_heads=2, hidden_dim=20,
                                 max_position_embeddings=32, dropout=0.0, attention_dropout=0.0, qa_dropout=0.0,
                                 seq_classif_dropout=0.0),
        _classes("DistilBert", "Model", "ForMaskedLM", *_ENCODER_HEADS),
        token_type_ids=False, pruning=True, resizing=True,
        cases={"distilbert_seqcls": "TFDistilBertForSequenceClassification",
               "distilbert_qa": "TFDistilBertForQuestionAnswering"},
    ),
    "albert": Architecture(  # one group of one layer shared by both layers, as in the released ALBERTs
        "AlbertConfig", dict(_BERT_LIKE, vocab_size=64, embedding_size=8, max_position_embeddings=32,
                             num_hidden_groups=1, inner_group_num=1, classifier_dropout_prob=0.0),
        _classes("Albert", "Model", "ForPreTraining", "ForMaskedLM", *_ENCODER_HEADS),
        token_type_ids=True, pruning=True, resizing=True, pretraining="masked_lm+sentence_order",
        cases={"albert_mlm": "TFAlbertForMaskedLM", "albert_seqcls": "TFAlbertForSequenceClassification"},
    ),
    "electra": Architecture(  # embedding_size != hidden_size: the embeddings are projected
        "ElectraConfig", dict(_BERT_LIKE, vocab_size=64, embedding_size=12, max_position_embeddings=32,
                              summary_last_dropout=0.0),
        _classes("Electra", "Model", "ForPreTraining", "ForMaskedLM", *_ENCODER_HEADS),
        token_type_ids=True, pruning=True, resizing=True, pretraining="replaced_token_detection",
        cases={"electra_pretraining": "TFElectraForPreTraining", "electra_tokcls": "TFElectraForTokenClassification"},
    ),
    "llama": Architecture(
        "LlamaConfig", _LLAMA, _classes("Llama", *_LLAMA_HEADS), token_type_ids=False, pruning=False, resizing=True,
        cases={"llama_lm": "TFLlamaForCausalLM"},
    ),
    "mistral": Architecture(  # a window shorter than the batches' sequences
        "MistralConfig", dict(_LLAMA, sliding_window=3), _classes("Mistral", *_LLAMA_HEADS), token_type_ids=False,
        pruning=False, resizing=True, cases={"mistral_lm": "TFMistralForCausalLM"}, family="llama",
    ),
    "qwen2": Architecture(
        "Qwen2Config", _LLAMA, _classes("Qwen2", *_LLAMA_HEADS), token_type_ids=False, pruning=False, resizing=True,
        family="llama",
    ),
    "qwen3": Architecture(  # per-head q/k norms, head_dim apart from hidden_size / heads
        "Qwen3Config", dict(_LLAMA, head_dim=6), _classes("Qwen3", *_LLAMA_HEADS), token_type_ids=False,
        pruning=False, resizing=True, cases={"qwen3_lm": "TFQwen3ForCausalLM"},
    ),
    "gemma": Architecture(  # scaled embeddings, tied head, GeGLU
        "GemmaConfig", dict(_LLAMA, head_dim=6), _classes("Gemma", *_LLAMA_HEADS), token_type_ids=False,
        pruning=False, resizing=True, cases={"gemma_lm": "TFGemmaForCausalLM"},
    ),
    "gemma2": Architecture(  # a sliding layer (window shorter than the batches' sequences), then a full one
        "Gemma2Config", dict(_LLAMA, head_dim=6, query_pre_attn_scalar=6, sliding_window=3),
        _classes("Gemma2", *_LLAMA_HEADS), token_type_ids=False, pruning=False, resizing=True,
        cases={"gemma2_lm": "TFGemma2ForCausalLM"},
    ),
    "gemma3_text": Architecture(
        "Gemma3TextConfig", dict(_LLAMA, head_dim=6, query_pre_attn_scalar=6, sliding_window=3,
                                 sliding_window_pattern=2),
        ("TFGemma3TextModel", "TFGemma3ForCausalLM", "TFGemma3TextForSequenceClassification"), token_type_ids=False,
        pruning=False, resizing=True, cases={"gemma3_lm": "TFGemma3ForCausalLM"},
    ),
    # Fused projections with grouped queries, half of each head rotated, LongRoPE's long factors (8 positions > 4)
    "phi3": Architecture(
        "Phi3Config", dict(_LLAMA, partial_rotary_factor=0.5, original_max_position_embeddings=4,
                           rope_scaling={"rope_type": "longrope", "short_factor": [1.1], "long_factor": [2.5]}),
        _classes("Phi3", *_LLAMA_HEADS), token_type_ids=False, pruning=False, resizing=True,
        cases={"phi3_lm": "TFPhi3ForCausalLM"},
    ),
    # 4 experts, 2 per token; the router logits' load-balancing loss joins the loss (output_router_logits)
    "mixtral": Architecture(
        "MixtralConfig", dict(_LLAMA, num_local_experts=4, num_experts_per_tok=2, output_router_logits=True,
                              router_aux_loss_coef=0.02),
        _classes("Mixtral", *_LLAMA_HEADS), token_type_ids=False, pruning=False, resizing=True,
        cases={"mixtral_lm": "TFMixtralForCausalLM"},
    ),
    # Relative attention with its own position projections (share_att_key off; the fixtures share them), positions
    # bucketed beyond 2 (the batches' sequences of 8 reach the log buckets), no absolute positions, no token types.
    "deberta-v2": Architecture(
        "DebertaV2Config", dict(_BERT_LIKE, vocab_size=64, max_position_embeddings=32, type_vocab_size=0,
                                relative_attention=True, position_buckets=4, max_relative_positions=16,
                                pos_att_type=["p2c", "c2p"], share_att_key=False, norm_rel_ebd="layer_norm",
                                position_biased_input=False),
        _classes("DebertaV2", "Model", "ForMaskedLM", *_ENCODER_HEADS), token_type_ids=True, pruning=False,
        resizing=True,
        cases={"deberta_v2_base": "TFDebertaV2Model", "deberta_v2_mlm": "TFDebertaV2ForMaskedLM",
               "deberta_v2_seqcls": "TFDebertaV2ForSequenceClassification",
               "deberta_v2_tokcls": "TFDebertaV2ForTokenClassification", "deberta_v2_qa": "TFDebertaV2ForQuestionAnswering"},
    ),
    "vit": Architecture(
        "ViTConfig", _VIT, _classes("ViT", "Model", "ForImageClassification"), token_type_ids=False, pruning=False,
        resizing=False, cases={"vit_base": "TFViTModel", "vit_imgcls": "TFViTForImageClassification"},
    ),
    "clip": Architecture(
        "CLIPConfig", dict(text_config=_CLIP_TEXT, vision_config=_CLIP_VISION, projection_dim=8), ("TFCLIPModel",),
        token_type_ids=False, pruning=False, resizing=False, cases={"clip_model": "TFCLIPModel"},
    ),
    "clip_text_model": Architecture(
        "CLIPTextConfig", _CLIP_TEXT, ("TFCLIPTextModel",), token_type_ids=False, pruning=False, resizing=True,
        cases={"clip_text": "TFCLIPTextModel"},
    ),
    "clip_vision_model": Architecture(
        "CLIPVisionConfig", _CLIP_VISION, ("TFCLIPVisionModel",), token_type_ids=False, pruning=False,
        resizing=False, cases={"clip_vision": "TFCLIPVisionModel"},
    ),
    # 8 mel bins of 16 frames (8 encoder positions); the key projections without bias.
    "whisper": Architecture(
        "WhisperConfig", dict(vocab_size=64, num_mel_bins=8, d_model=16, encoder_layers=2, decoder_layers=2,
                              encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=20,
                              decoder_ffn_dim=20, max_source_positions=8, max_target_positions=32, pad_token_id=1,
                              bos_token_id=0, eos_token_id=2, decoder_start_token_id=3, begin_suppress_tokens=None),
        _classes("Whisper", "Model", "ForConditionalGeneration"), token_type_ids=False, pruning=False,
        resizing=True, cases={"whisper_base": "TFWhisperModel", "whisper_lm": "TFWhisperForConditionalGeneration"},
    ),
    "bart": Architecture(  # encoder-decoder: each source row ends with <eos> (tiny_batch), where BART classifies
        "BartConfig", dict(vocab_size=64, d_model=16, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
                           decoder_attention_heads=2, encoder_ffn_dim=20, decoder_ffn_dim=20,
                           max_position_embeddings=32, dropout=0.0, attention_dropout=0.0, classifier_dropout=0.0,
                           forced_eos_token_id=None),
        _classes("Bart", "Model", "ForConditionalGeneration", "ForSequenceClassification"),
        token_type_ids=False, pruning=False, resizing=True,
        cases={"bart_lm": "TFBartForConditionalGeneration"},
    ),
    # T5 v1.1 (gated-gelu, its own lm_head; the t5_lm fixture is v1.0), heads of d_kv=6 != d_model / num_heads.
    "t5": Architecture(
        "T5Config", _T5, _classes("T5", "Model", "ForConditionalGeneration", "EncoderModel"), token_type_ids=False,
        pruning=False, resizing=True, cases={"t5_lm": "TFT5ForConditionalGeneration"},
    ),
    "mt5": Architecture(
        "MT5Config", _T5, _classes("MT5", "Model", "ForConditionalGeneration", "EncoderModel"), token_type_ids=False,
        pruning=False, resizing=True, family="t5",
    ),
}
_ARCHITECTURE_OF = {name: model_type for model_type, entry in ARCHITECTURES.items() for name in entry.classes}


def table_classes() -> list[str]:
    """Every class the table names, in table order."""
    return list(_ARCHITECTURE_OF)


def exported_classes() -> list[str]:
    """The table's classes that `tfmodels` exports (those the checks run on)."""
    return [name for name in table_classes() if name in tfmodels.__all__]


def first_head(model_type: str) -> str:
    """The first class of an architecture after its bare model (the bare model when it is the only class, as CLIP's
    towers): the class that runs the checks an architecture needs once (every save format, an export at half
    precision)."""
    classes = ARCHITECTURES[model_type].classes
    return ([name for name in classes if task_of(name) != "base"] or list(classes))[0]


def checked_classes() -> list[str]:
    """The classes the training, serving and surgery checks run on: every exported class of an architecture with
    code of its own, and the first head of a family member (its classes subclass the original's, whose classes run
    the checks: only its config differs, as Mistral's sliding window, and Qwen2's q/k/v biases, both of which the
    first head runs through).

    Example:
        >>> "TFMistralForCausalLM" in checked_classes(), "TFMistralModel" in checked_classes()
        (True, False)
    """
    return [name for name in exported_classes()
            if architecture_of(name).family is None or name == first_head(_ARCHITECTURE_OF[name])]


def architecture_of(class_name: str) -> Architecture:
    """The table entry whose classes include `class_name`."""
    if class_name not in _ARCHITECTURE_OF:
        raise KeyError(f"{class_name} is in no entry of ARCHITECTURES; add it to its architecture's classes.")
    return ARCHITECTURES[_ARCHITECTURE_OF[class_name]]


def task_of(class_name: str) -> str:
    """The kind of task of a class, from the end of its name (`TFBertForMaskedLM` -> `"masked_lm"`)."""
    for suffix, task in TASKS.items():
        if class_name.endswith(suffix):
            return task
    raise ValueError(f"{class_name} ends with none of the known task suffixes {list(TASKS)}.")


def tiny_model(class_name: str, seed: int = 0) -> keras.Model:
    """A tiny, randomly initialised (seeded) `class_name` model from its architecture's tiny config.

    Classification heads get `NUM_LABELS` labels; causal language models are decoders (`is_decoder=True`).
    """
    entry = architecture_of(class_name)
    task = task_of(class_name)
    classifies = task in ("sequence_classification", "token_classification", "image_classification")
    overrides = {"num_labels": NUM_LABELS} if classifies else {}
    if task == "causal_lm":
        overrides["is_decoder"] = True
    keras.utils.set_random_seed(seed)
    config = getattr(tfmodels, entry.config_class)(**entry.config, **overrides)
    return getattr(tfmodels, class_name)(config)


def tiny_batch(model: keras.Model, seed: int = 0) -> tuple[dict[str, np.ndarray], Any]:
    """`(inputs, labels)` of `BATCH` rows of `SEQUENCE` tokens for `model`, whose labels a few training steps learn.

    Each row counts up from a random token (so the next token, the token itself and its residue are predictable);
    row 1 ends with two padding tokens. Labels are a dict keyed by label argument, except for a bare model (no
    labels, no loss): a `[batch, seq, hidden]` regression target of its `last_hidden_state`, for a Keras loss.
    """
    class_name = type(model).__name__
    config = model.config
    task = task_of(class_name)
    rng = np.random.default_rng(seed)
    if task == "contrastive":
        return _contrastive_batch(model, rng)
    if "pixel_values" in model.input_signature:
        return _image_batch(model, task, rng)
    if "input_features" in model.input_signature:
        return _audio_batch(model, task, rng)
    shape = (BATCH, CHOICES, SEQUENCE) if task in ("multiple_choice", "double_heads") else (BATCH, SEQUENCE)
    low = 4  # above the special tokens (padding, start, end)
    ids = low + (rng.integers(0, config.vocab_size - low, shape[:-1] + (1,)) + np.arange(SEQUENCE)) % (
        config.vocab_size - low)
    mask = np.ones(shape, np.int32)
    mask[1, ..., -2:] = 0
    ids = np.where(mask == 1, ids, config.pad_token_id).astype(np.int32)
    if config.is_encoder_decoder:  # sources end with <eos>, as tokenizers write them (BART classifies there)
        ids[np.arange(BATCH), mask.sum(-1) - 1] = config.eos_token_id
    inputs = {"input_ids": ids, "attention_mask": mask}
    if architecture_of(class_name).token_type_ids:
        second_segment = np.arange(SEQUENCE) >= SEQUENCE // 2 if config.type_vocab_size > 1 else np.zeros(SEQUENCE)
        inputs["token_type_ids"] = np.broadcast_to(second_segment, shape).astype(np.int32)
    first = ids[(slice(None),) + (0,) * (len(shape) - 1)]  # each row's (first choice's) first token
    every_third = np.where((np.arange(SEQUENCE) % 3 == 1) & (mask == 1), ids, -100).astype(np.int32)
    next_tokens = np.where(mask == 1, ids, -100).astype(np.int32)
    per_sequence = (first % NUM_LABELS).astype(np.int32)
    if config.is_encoder_decoder and task != "encoder":  # the defaults BART takes without them; T5 needs them given
        source = next_tokens if task == "seq2seq_lm" else ids
        inputs["decoder_input_ids"] = shift_tokens_right(source, config.pad_token_id,
                                                         config.decoder_start_token_id).numpy()
    if task in ("base", "encoder"):
        phase = ids[..., None] * 0.1 * (1 + np.arange(config.hidden_size))
        return inputs, np.sin(phase).astype(np.float32)
    if task == "masked_lm":
        labels = {"labels": every_third}
    elif task in ("causal_lm", "seq2seq_lm"):  # a seq2seq LM learns to copy its source (decoder: labels shifted)
        labels = {"labels": next_tokens}
    elif task in ("sequence_classification", "multiple_choice"):
        labels = {"labels": per_sequence}
    elif task == "token_classification":
        labels = {"labels": np.where(mask == 1, ids % NUM_LABELS, -100).astype(np.int32)}
    elif task == "question_answering":
        start = (first % 4).astype(np.int32)
        labels = {"start_positions": start, "end_positions": start + 2}
    elif task == "next_sentence_prediction":
        labels = {"next_sentence_label": (first % 2).astype(np.int32)}
    elif task == "double_heads":
        inputs["mc_token_ids"] = mask.sum(-1).astype(np.int32) - 1  # each choice's last real token
        labels = {"labels": next_tokens, "mc_labels": per_sequence}
    else:  # pretraining
        pretraining = architecture_of(class_name).pretraining
        if pretraining == "replaced_token_detection":
            labels = {"labels": (ids % 2).astype(np.int32)}  # padding is left out by the attention mask
        else:
            sentence_label = PRETRAINING_TASKS[pretraining][1]
            labels = {"labels": every_third, sentence_label: (first % 2).astype(np.int32)}
    return inputs, labels


def _image_batch(model: keras.Model, task: str, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], Any]:
    """`BATCH` images whose class a few steps learn: each image's brightness is its class (plus noise). A bare
    model's target is a regression of its `last_hidden_state` on the pixels' mean."""
    config = getattr(model, "vision_config", model.config)
    classes = np.arange(BATCH) % NUM_LABELS
    size = config.image_size
    pixels = (classes[:, None, None, None] - 1.0 + 0.3 * rng.normal(
        size=(BATCH, config.num_channels, size, size))).astype(np.float32)
    inputs = {"pixel_values": pixels}
    if task == "base":
        patches = (size // config.patch_size) ** 2 + 1
        level = pixels.mean(axis=(1, 2, 3))[:, None, None]
        target = np.sin(level * (1 + np.arange(config.hidden_size)) + np.arange(patches)[:, None] * 0.1)
        return inputs, target.astype(np.float32)
    return inputs, {"labels": classes.astype(np.int32)}


def _contrastive_batch(model: keras.Model, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], dict]:
    """`BATCH` texts and `BATCH` images, the i-th text describing the i-th image: the text's first token is its
    image's class, which sets its brightness. The contrastive loss needs no labels (an empty dict)."""
    text = model.config.text_config
    images = _image_batch(model, "image_classification", rng)[0]  # classes by brightness: 0, 1, 2, 0
    classes = np.arange(BATCH) % NUM_LABELS
    ids = 4 + (classes[:, None] * 7 + np.arange(SEQUENCE)) % (text.vocab_size - 5)
    mask = np.ones((BATCH, SEQUENCE), np.int32)
    mask[1, -2:] = 0
    ids[np.arange(BATCH), mask.sum(-1) - 1] = text.vocab_size - 1  # the end of text: each row's highest id
    ids = np.where(mask == 1, ids, text.pad_token_id).astype(np.int32)
    return {"input_ids": ids, "attention_mask": mask, **images}, {}


def _audio_batch(model: keras.Model, task: str, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], Any]:
    """`BATCH` rows of log-mel features whose level is the row's class, and token sequences that count up from
    the class, which the decoder learns to write (`labels`; the bare model: a regression target of its
    `last_hidden_state`); the decoder inputs are the sequences shifted right."""
    config = model.config
    classes = np.arange(BATCH) % NUM_LABELS
    frames = 2 * config.max_source_positions
    features = (classes[:, None, None] - 1.0 + 0.3 * rng.normal(size=(BATCH, config.num_mel_bins, frames)))
    low = 4  # above the special tokens
    tokens = (low + (classes[:, None] * 5 + np.arange(SEQUENCE)) % (config.vocab_size - low)).astype(np.int32)
    decoder_inputs = shift_tokens_right(tokens, config.pad_token_id, config.decoder_start_token_id).numpy()
    inputs = {"input_features": features.astype(np.float32), "decoder_input_ids": decoder_inputs}
    if task == "base":
        phase = decoder_inputs[..., None] * 0.1 * (1 + np.arange(config.d_model))
        return inputs, np.sin(phase).astype(np.float32)
    return inputs, {"labels": tokens}
