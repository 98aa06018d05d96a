"""DeBERTa-v2's weight names: the reference's TF paths (PyTorch keys follow by the general rules; the relative
embeddings are one variable named `rel_embeddings.weight`, as the reference's TF layer names it)."""

from tfmodels.checkpoints.names import WeightTable

DEBERTA_V2_WEIGHTS = WeightTable(
    prefix="deberta",
    blocks={"embeddings": "embeddings", "encoder": "encoder", "layer": "layer_._{i}",
            "relative_embeddings": "rel_embeddings.weight", "relative_norm": "LayerNorm"},
    heads={
        "masked_lm": {"bias": "cls/predictions/bias", "dense": "cls/predictions/transform/dense",
                      "norm": "cls/predictions/transform/LayerNorm"},
        "sequence_classification": {"dense": "pooler/dense", "out_proj": "classifier"},
        "multiple_choice": {"dense": "pooler/dense", "out_proj": "classifier"},
        "token_classification": {"classifier": "classifier"},
        "question_answering": {"qa_outputs": "qa_outputs"},
    },
    # The decoder tied to the word embeddings (and its bias, tied to `cls.predictions.bias`): PyTorch state dicts
    # list them, files leave them out; `position_ids` is a buffer of older files.
    pt_ignore=(r"position_ids$", r"^cls\.predictions\.decoder\."),
)
