"""ALBERT's weight names: the reference's TF paths (PyTorch keys follow by the general rules)."""

from tfmodels.checkpoints.names import WeightTable
from tfmodels.layers.attention import AttentionNames
from tfmodels.layers.encoder import EncoderLayout
from tfmodels.layers.transformer import LayerNames

ALBERT_LAYER = LayerNames(
    attention="attention",
    attention_projections=AttentionNames("query", "key", "value", "dense"),
    attention_norm="attention/LayerNorm",
    ffn_in="ffn",
    ffn_out="ffn_output",
    ffn_norm="full_layer_layer_norm",
)

ALBERT_WEIGHTS = WeightTable(
    prefix="albert",
    # `layer` is formatted with the group `g` and the layer `j` inside it.
    blocks=EncoderLayout(layer_names=ALBERT_LAYER, layer="albert_layer_groups_._{g}/albert_layers_._{j}",
                         pooler="pooler", projection="encoder/embedding_hidden_mapping_in"),
    heads={
        "masked_lm": {"bias": "predictions/bias", "decoder_bias": "predictions/decoder/bias",
                      "dense": "predictions/dense", "norm": "predictions/LayerNorm"},
        "sentence_order": {"classifier": "sop_classifier/classifier"},
        "sequence_classification": {"classifier": "classifier"},
        "multiple_choice": {"classifier": "classifier"},
        "token_classification": {"classifier": "classifier"},
        "question_answering": {"qa_outputs": "qa_outputs"},
    },
    pt_ignore=(r"position_ids$", r"token_type_ids$", r"predictions\.decoder\.weight$"),
    missing_ok=(r"^predictions/decoder/bias$",),  # PyTorch ties it to `predictions.bias`: filled from it
    pt_tied_copies=(r"^predictions/decoder/bias$",),
)
