"""ViT: patch embeddings and a pre-norm encoder from the kit (`VisionEncoderBackbone`), and its classes."""

from __future__ import annotations

from typing import Any

from tfmodels.call_inputs import unpack_inputs
from tfmodels.layers.transformer import LayerSpec
from tfmodels.layers.vision import VisionEncoderBackbone
from tfmodels.modeling_outputs import ModelOutput
from tfmodels.models.vit.configuration_vit import ViTConfig
from tfmodels.models.vit.weights_vit import VIT_WEIGHTS
from tfmodels.tasks import ImageBaseModelTask, ImageClassificationTask, ImageTaskModel


class TFViTPreTrainedModel(ImageTaskModel):
    """ViT's architecture: the `vit` backbone, its weight table and its `call` (the reference's parameters)."""

    config_class = ViTConfig
    base_model_prefix = "vit"
    weight_table = VIT_WEIGHTS

    def make_backbone(self, config, add_pooling_layer: bool) -> VisionEncoderBackbone:
        layer = LayerSpec(hidden_size=config.hidden_size, num_heads=config.num_attention_heads,
                          intermediate_size=config.intermediate_size, activation=config.hidden_act,
                          hidden_dropout=config.hidden_dropout_prob,
                          attention_dropout=config.attention_probs_dropout_prob,
                          layer_norm_eps=config.layer_norm_eps, initializer_range=config.initializer_range,
                          norm_first=True, attention_bias=bool(config.qkv_bias))
        return VisionEncoderBackbone(self.weight_table.blocks, layer, config.num_hidden_layers, config.image_size,
                                     config.patch_size, config.num_channels, add_pooling_layer,
                                     pooler_size=config.pooler_output_size, pooler_activation=config.pooler_act,
                                     name=self.base_model_prefix)

    def head_settings(self, task: str) -> dict[str, Any]:
        return {}

    @unpack_inputs
    def call(self, pixel_values=None, head_mask=None, output_attentions=None, output_hidden_states=None,
             interpolate_pos_encoding=None, return_dict=None, labels=None, training=False) -> ModelOutput | tuple:
        return self.run_task(locals())


class TFViTModel(TFViTPreTrainedModel, ImageBaseModelTask):
    """The bare ViT encoder: `last_hidden_state` `[batch, 1 + patches, hidden]` (after the final LayerNorm) and
    `pooler_output` (tanh of a dense layer on the class token).

    Example:
        >>> model = TFViTModel.from_pretrained("google/vit-base-patch16-224-in21k")
        >>> model(pixel_values=processor(images)["pixel_values"]).pooler_output  # [batch, 768]
    """

    @unpack_inputs
    def call(self, pixel_values=None, head_mask=None, output_attentions=None, output_hidden_states=None,
             interpolate_pos_encoding=None, return_dict=None, training=False) -> ModelOutput | tuple:
        return self.run_task(locals())


class TFViTForImageClassification(TFViTPreTrainedModel, ImageClassificationTask):
    """ViT with `classifier` on the class token's final state (no pooler); the loss follows `config.problem_type`.

    Example:
        >>> model = TFViTForImageClassification.from_pretrained("google/vit-base-patch16-224")
        >>> model(pixel_values=pixels, labels=labels).logits  # [batch, num_labels]
    """
