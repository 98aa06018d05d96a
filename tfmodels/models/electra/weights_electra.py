"""ELECTRA's weight names: the reference's TF paths (PyTorch keys follow by the general rules). The layers are
BERT's; `embeddings_project` exists only when `embedding_size != hidden_size`; there is no pooler."""

from tfmodels.checkpoints.names import WeightTable
from tfmodels.layers.encoder import EncoderLayout
from tfmodels.models.bert.weights_bert import BERT_LAYER

ELECTRA_HEADS = {
    "replaced_token_detection": {"dense": "discriminator_predictions/dense",
                                 "dense_prediction": "discriminator_predictions/dense_prediction"},
    "masked_lm": {"dense": "generator_predictions/dense", "norm": "generator_predictions/LayerNorm",
                  "bias": "generator_lm_head/bias"},
    "sequence_classification": {"dense": "classifier/dense", "out_proj": "classifier/out_proj"},
    "multiple_choice": {"summary": "sequence_summary/summary", "classifier": "classifier"},
    "token_classification": {"classifier": "classifier"},
    "question_answering": {"qa_outputs": "qa_outputs"},
}

ELECTRA_WEIGHTS = WeightTable(
    prefix="electra",
    blocks=EncoderLayout(layer_names=BERT_LAYER, pooler=None, projection="embeddings_project"),
    heads=ELECTRA_HEADS,
    pt_ignore=(r"position_ids$", r"token_type_ids$", r"generator_lm_head\.weight$"),
)
