"""RoBERTa's weight names: BERT's layers under `roberta/`, the embeddings after the encoder (the reference's
variable order), and RoBERTa's own heads (PyTorch keys follow by the general rules)."""

from tfmodels.checkpoints.names import WeightTable
from tfmodels.layers.encoder import EncoderLayout
from tfmodels.models.bert.weights_bert import BERT_LAYER

ROBERTA_HEADS = {
    "masked_lm": {"bias": "lm_head/bias", "dense": "lm_head/dense", "norm": "lm_head/layer_norm"},
    "sequence_classification": {"dense": "classifier/dense", "out_proj": "classifier/out_proj"},
    "multiple_choice": {"classifier": "classifier"},
    "token_classification": {"classifier": "classifier"},
    "question_answering": {"qa_outputs": "qa_outputs"},
}

ROBERTA_WEIGHTS = WeightTable(
    prefix="roberta",
    blocks=EncoderLayout(layer_names=BERT_LAYER, embeddings_last=True),
    heads=ROBERTA_HEADS,
    pt_ignore=(r"position_ids$", r"lm_head\.decoder\."),
)
