"""GPT-2 models: the base decoder, the LM head (tied to the input embeddings) and sequence classification."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfmodels.layers import losses
from tfmodels.layers.core import get_initializer
from tfmodels.modeling import TFPreTrainedModel, float32_logits, unpack_inputs
from tfmodels.modeling_outputs import TFCausalLMOutputWithCrossAttentions, TFSequenceClassifierOutputWithPast
from tfmodels.models.gpt2.configuration_gpt2 import GPT2Config
from tfmodels.models.gpt2.layers import TFGPT2MainLayer

_SERIALIZABLE = keras.saving.register_keras_serializable(package="tfmodels")


class TFGPT2PreTrainedModel(TFPreTrainedModel):
    """Shared plumbing of the GPT-2 models."""

    config_class = GPT2Config
    base_model_prefix = "transformer"
    _keys_to_ignore_on_load_unexpected = [r"h.\d+.attn.bias", r"h.\d+.attn.masked_bias", r"h.\d+.crossattention.bias"]

    def __init__(self, config: GPT2Config, *inputs, **kwargs):
        super().__init__(config, *inputs, **kwargs)
        self.transformer = TFGPT2MainLayer(config, name="transformer")

    @property
    def input_signature(self) -> dict[str, tf.TensorSpec]:
        """GPT-2 serves `input_ids` and `attention_mask` only."""
        return {name: tf.TensorSpec([None, None], tf.int32, name=name) for name in ("input_ids", "attention_mask")}

    def _decode(self, input_ids, past_key_values, attention_mask, token_type_ids, position_ids, head_mask,
                inputs_embeds, use_cache, output_attentions, output_hidden_states, training, cache_position=None):
        return self.transformer(
            input_ids=input_ids, past_key_values=past_key_values, attention_mask=attention_mask,
            token_type_ids=token_type_ids, position_ids=position_ids, head_mask=head_mask,
            inputs_embeds=inputs_embeds, use_cache=use_cache, output_attentions=output_attentions,
            output_hidden_states=output_hidden_states, training=training, cache_position=cache_position,
        )


@_SERIALIZABLE
class TFGPT2Model(TFGPT2PreTrainedModel):
    """The bare GPT-2 decoder: `last_hidden_state` and, with `use_cache`, `past_key_values` (one
    `[2, batch, heads, seq, head_dim]` tensor per layer).

    Example:
        >>> out = model({"input_ids": ids}, use_cache=True)
        >>> next_out = model({"input_ids": next_ids}, past_key_values=out.past_key_values)
    """

    def __init__(self, config: GPT2Config, *inputs, **kwargs):
        super().__init__(config, *inputs, **kwargs)
        self.build_in_name_scope()

    def build(self, input_shape=None):
        self.transformer.build(None)

    @unpack_inputs
    def call(self, input_ids=None, past_key_values=None, attention_mask=None, token_type_ids=None,
             position_ids=None, head_mask=None, inputs_embeds=None, use_cache=None, output_attentions=None,
             output_hidden_states=None, return_dict=None, training=False, cache_position=None):
        output = self._decode(input_ids, past_key_values, attention_mask, token_type_ids, position_ids, head_mask,
                              inputs_embeds, use_cache, output_attentions, output_hidden_states, training,
                              cache_position)
        return output if return_dict else output.to_tuple()


@_SERIALIZABLE
class TFGPT2LMHeadModel(TFGPT2PreTrainedModel):
    """GPT-2 with the language-modelling head, tied to the input embeddings (`wte`).

    With `labels`, the loss is next-token cross entropy (labels are shifted inside; -100 is ignored).

    Example:
        >>> logits = model({"input_ids": ids}).logits  # [batch, seq, vocab]
    """

    _keys_to_ignore_on_load_unexpected = TFGPT2PreTrainedModel._keys_to_ignore_on_load_unexpected + [r"lm_head"]

    def __init__(self, config: GPT2Config, *inputs, **kwargs):
        super().__init__(config, *inputs, **kwargs)
        self.build_in_name_scope()

    def build(self, input_shape=None):
        self.transformer.build(None)

    @classmethod
    def can_generate(cls) -> bool:
        """True: `generate()` decodes with the key/value cache (see `tfmodels.generation`)."""
        return True

    def get_output_embeddings(self):
        """The input embeddings `wte`, which the LM head reuses (tied weights)."""
        return self.get_input_embeddings()

    def init_generation_cache(self, batch_size, max_length: int) -> tuple[tf.Tensor, ...]:
        """A zero key/value cache of `max_length` slots (one `[2, batch, heads, max_length, head_dim]` tensor per
        layer), which `call(..., cache_position=i)` fills in place: its shape never changes while generating."""
        config = self.config
        shape = [2, batch_size, config.n_head, max_length, config.n_embd // config.n_head]
        return tuple(tf.zeros(shape, self.compute_dtype) for _ in range(config.n_layer))

    def generation_forward(self, input_ids, attention_mask, position_ids, cache, cache_position,
                           encoder_outputs=None, encoder_attention_mask=None):
        """One cached pass for `generate`: `(next-token logits [batch, vocab], cache)`. The LM head runs on the
        last position only (a prompt's other positions would cost a [batch, length, vocab] projection)."""
        decoded = self.transformer(input_ids=input_ids, past_key_values=cache, attention_mask=attention_mask,
                                   position_ids=position_ids, use_cache=True, cache_position=cache_position,
                                   training=False)
        logits = self.transformer.wte.attend(decoded["last_hidden_state"][:, -1, :])
        return float32_logits(logits), tuple(decoded["past_key_values"])

    @unpack_inputs
    def call(self, input_ids=None, past_key_values=None, attention_mask=None, token_type_ids=None,
             position_ids=None, head_mask=None, inputs_embeds=None, use_cache=None, output_attentions=None,
             output_hidden_states=None, return_dict=None, labels=None, training=False, cache_position=None):
        """With `cache_position` (a scalar), `past_key_values` is a preallocated cache (`init_generation_cache`)
        that the new tokens are written into from that slot on, and `attention_mask` covers every slot."""
        decoded = self._decode(input_ids, past_key_values, attention_mask, token_type_ids, position_ids, head_mask,
                               inputs_embeds, use_cache, output_attentions, output_hidden_states, training,
                               cache_position)
        logits = float32_logits(self.transformer.wte.attend(decoded["last_hidden_state"]))
        loss = None if labels is None else losses.causal_lm_loss(labels, logits)
        output = TFCausalLMOutputWithCrossAttentions(
            loss=loss, logits=logits, past_key_values=decoded.get("past_key_values"),
            hidden_states=decoded.get("hidden_states"), attentions=decoded.get("attentions"),
        )
        return output if return_dict else output.to_tuple()


@_SERIALIZABLE
class TFGPT2ForSequenceClassification(TFGPT2PreTrainedModel):
    """GPT-2 classifying a sequence from its last non-padding token (`config.pad_token_id`; without one, the
    last token).

    Example:
        >>> model = TFGPT2ForSequenceClassification.from_pretrained("gpt2-dir", num_labels=2, pad_token_id=50256)
    """

    _keys_to_ignore_on_load_unexpected = TFGPT2PreTrainedModel._keys_to_ignore_on_load_unexpected + [r"lm_head"]

    def __init__(self, config: GPT2Config, *inputs, **kwargs):
        super().__init__(config, *inputs, **kwargs)
        self.score = keras.layers.Dense(
            config.num_labels, kernel_initializer=get_initializer(config.initializer_range), use_bias=False,
            name="score",
        )
        self.build_in_name_scope()

    def build(self, input_shape=None):
        self.transformer.build(None)
        self.score.build((None, None, self.config.n_embd))

    @unpack_inputs
    def call(self, input_ids=None, past_key_values=None, attention_mask=None, token_type_ids=None,
             position_ids=None, head_mask=None, inputs_embeds=None, use_cache=None, output_attentions=None,
             output_hidden_states=None, return_dict=None, labels=None, training=False):
        decoded = self._decode(input_ids, past_key_values, attention_mask, token_type_ids, position_ids, head_mask,
                               inputs_embeds, use_cache, output_attentions, output_hidden_states, training)
        logits = self.score(decoded["last_hidden_state"])
        seq_len = tf.shape(logits)[1]
        if input_ids is not None and self.config.pad_token_id is not None:
            not_pad = tf.cast(tf.not_equal(input_ids, self.config.pad_token_id), tf.int32)
            last = tf.argmax(tf.range(seq_len)[None, :] * not_pad, axis=-1, output_type=tf.int32)
        else:
            last = tf.fill(tf.shape(logits)[:1], seq_len - 1)
        pooled_logits = float32_logits(tf.gather(logits, last, batch_dims=1))
        loss = None
        if labels is not None:
            loss = losses.sequence_classification_loss(labels, pooled_logits, self.config.problem_type)
        output = TFSequenceClassifierOutputWithPast(
            loss=loss, logits=pooled_logits, past_key_values=decoded.get("past_key_values"),
            hidden_states=decoded.get("hidden_states"), attentions=decoded.get("attentions"),
        )
        return output if return_dict else output.to_tuple()
