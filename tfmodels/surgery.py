"""What changes a model's shape in place, or reads it: the word embeddings and the vocabulary size, the output
embeddings and the LM head's bias, attention heads (pruning, head masks) and the parameter count. Part of
`TFPreTrainedModel`."""

from __future__ import annotations

import warnings
from typing import Any

import keras
import numpy as np

from tfmodels.layers.core import head_mask_5d


class ModelSurgery:
    """`TFPreTrainedModel`'s embeddings, heads and pruning (the reference's names)."""

    def num_parameters(self, only_trainable: bool = False) -> int:
        """Number of parameters (tied weights counted once).

        Example:
            >>> model.num_parameters(only_trainable=True)
        """
        variables = self.trainable_weights if only_trainable else self.weights
        unique = {id(v): v for v in variables}.values()
        return int(sum(np.prod(v.shape, dtype=np.int64) for v in unique))

    @property
    def _main_layer(self):
        main = getattr(self, self.base_model_prefix, None) if self.base_model_prefix else None
        return main if main is not None else self

    def get_input_embeddings(self) -> keras.layers.Layer:
        """The word-embedding layer (a `TokenEmbedding`; its `embeddings` variable is `[vocab, hidden]`)."""
        main = self._main_layer
        if main is self:
            raise NotImplementedError(f"{type(self).__name__} does not define get_input_embeddings().")
        return main.get_input_embeddings()

    def set_input_embeddings(self, value) -> None:
        """Replace the word-embedding matrix by `value` (`[vocab, hidden]`); the vocabulary size follows it."""
        self.get_input_embeddings().set_matrix(value)
        self.config.vocab_size = int(np.shape(value)[0])

    def get_lm_head(self) -> keras.layers.Layer | None:
        """The language-modelling head layer, or None for models without one."""
        return None

    def get_output_embeddings(self) -> keras.layers.Layer | None:
        """The layer whose matrix projects hidden states to the vocabulary, or None."""
        lm_head = self.get_lm_head()
        return lm_head.get_output_embeddings() if lm_head is not None else None

    def set_output_embeddings(self, value) -> None:
        """Replace the output projection matrix (tied models share it with the input embeddings)."""
        output = self.get_output_embeddings()
        if output is None:
            raise NotImplementedError(f"{type(self).__name__} has no output embeddings.")
        output.set_matrix(value)

    def get_bias(self) -> dict[str, keras.Variable] | None:
        """The LM head's bias variables by name (`{"bias": ...}`), or None without an LM head."""
        lm_head = self.get_lm_head()
        return lm_head.get_bias() if lm_head is not None else None

    def set_bias(self, value: dict[str, Any]) -> None:
        """Set the LM head's bias from `{"bias": array}`; the vocabulary size follows its last dimension."""
        lm_head = self.get_lm_head()
        if lm_head is None:
            raise NotImplementedError(f"{type(self).__name__} has no LM head bias.")
        lm_head.set_bias(value)
        self.config.vocab_size = int(np.shape(value["bias"])[-1])

    def get_output_layer_with_bias(self) -> keras.layers.Layer | None:
        """Deprecated: use `get_lm_head`."""
        warnings.warn("get_output_layer_with_bias is deprecated; use get_lm_head.", FutureWarning, stacklevel=2)
        return self.get_lm_head()

    def get_prefix_bias_name(self) -> str | None:
        """Deprecated: always None."""
        warnings.warn("get_prefix_bias_name is deprecated; use get_bias.", FutureWarning, stacklevel=2)
        return None

    def get_head_mask(self, head_mask, num_hidden_layers: int) -> list:
        """`[heads]` or `[layers, heads]` mask (1 keeps a head) -> one mask per layer, or Nones."""
        return head_mask_5d(head_mask, num_hidden_layers)

    def resize_token_embeddings(self, new_num_tokens: int | None = None) -> keras.layers.Layer:
        """Resize the vocabulary: input embeddings, tied output embeddings and the LM-head bias together.

        Existing rows are kept, new rows are initialised like fresh weights (bias rows with zeros), and
        `config.vocab_size` is updated. Returns the input embedding layer.

        Example:
            >>> model.resize_token_embeddings(len(tokenizer))
        """
        embeddings = self.get_input_embeddings()
        if new_num_tokens is None or new_num_tokens == embeddings.input_dim:
            return embeddings
        if not isinstance(new_num_tokens, int) or new_num_tokens < 1:
            raise ValueError(f"new_num_tokens must be a positive integer; received {new_num_tokens!r}.")
        embeddings.resize(new_num_tokens)
        output = self.get_output_embeddings()
        if output is not None and output is not embeddings:
            output.resize(new_num_tokens)
        lm_head = self.get_lm_head()
        if lm_head is not None:
            lm_head.resize_bias(new_num_tokens)
        self.config.vocab_size = new_num_tokens
        return embeddings

    def prune_heads(self, heads_to_prune: dict[int, list[int]]) -> None:
        """Remove attention heads: `{layer index: [head indices]}` (indices of the original, unpruned model).

        The pruned heads are recorded in `config.pruned_heads`, so a saved model reloads pruned.
        """
        main = self._main_layer
        if main is self or not hasattr(main, "prune_heads"):
            raise NotImplementedError(f"{type(self).__name__} does not support head pruning.")
        request = {int(k): [int(h) for h in v] for k, v in heads_to_prune.items()}
        main.prune_heads(request)  # validates layers and heads before changing anything
        for layer, heads in request.items():  # recorded only once done, so a refused request leaves no trace
            self.config.pruned_heads[layer] = sorted(set(self.config.pruned_heads.get(layer, [])) | set(heads))
