"""BERT's weight names: the reference's TF paths (PyTorch keys follow by the general rules)."""

from tfmodels.checkpoints.names import WeightTable
from tfmodels.layers.attention import AttentionNames
from tfmodels.layers.encoder import EncoderLayout
from tfmodels.layers.transformer import LayerNames

BERT_LAYER = LayerNames(
    attention="attention",
    attention_projections=AttentionNames("self/query", "self/key", "self/value", "output/dense"),
    attention_norm="attention/output/LayerNorm",
    ffn_in="intermediate/dense",
    ffn_out="output/dense",
    ffn_norm="output/LayerNorm",
    cross_attention="crossattention",
    cross_attention_norm="crossattention/output/LayerNorm",
)

BERT_HEADS = {
    "masked_lm": {"bias": "mlm___cls/predictions/bias", "dense": "mlm___cls/predictions/transform/dense",
                  "norm": "mlm___cls/predictions/transform/LayerNorm"},
    "next_sentence": {"classifier": "nsp___cls/seq_relationship"},
    "sequence_classification": {"classifier": "classifier"},
    "multiple_choice": {"classifier": "classifier"},
    "token_classification": {"classifier": "classifier"},
    "question_answering": {"qa_outputs": "qa_outputs"},
}

BERT_WEIGHTS = WeightTable(
    prefix="bert",
    blocks=EncoderLayout(layer_names=BERT_LAYER),
    heads=BERT_HEADS,
    pt_ignore=(r"position_ids$", r"cls\.predictions\.decoder\."),
)
