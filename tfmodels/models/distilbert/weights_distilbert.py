"""DistilBERT's weight names: the reference's TF paths (PyTorch keys follow by the general rules)."""

from tfmodels.checkpoints.names import WeightTable
from tfmodels.layers.attention import AttentionNames
from tfmodels.layers.embeddings import EmbeddingNames
from tfmodels.layers.encoder import EncoderLayout
from tfmodels.layers.transformer import LayerNames

DISTILBERT_LAYER = LayerNames(
    attention="attention",
    attention_projections=AttentionNames("q_lin", "k_lin", "v_lin", "out_lin"),
    attention_norm="sa_layer_norm",
    ffn_in="ffn/lin1",
    ffn_out="ffn/lin2",
    ffn_norm="output_layer_norm",
)

DISTILBERT_WEIGHTS = WeightTable(
    prefix="distilbert",
    blocks=EncoderLayout(layer_names=DISTILBERT_LAYER, embedding_names=EmbeddingNames(token_type=None),
                         stack="transformer", pooler=None),
    heads={
        "masked_lm": {"dense": "vocab_transform", "norm": "vocab_layer_norm", "bias": "vocab_projector/bias"},
        "sequence_classification": {"pre_classifier": "pre_classifier", "classifier": "classifier"},
        "multiple_choice": {"pre_classifier": "pre_classifier", "classifier": "classifier"},
        "token_classification": {"classifier": "classifier"},
        "question_answering": {"qa_outputs": "qa_outputs"},
    },
    # `vocab_projector.weight` is the word-embedding matrix (tied); `position_ids` a buffer of older files.
    pt_ignore=(r"position_ids$", r"^vocab_projector\.weight$"),
)
