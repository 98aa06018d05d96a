"""CLIP: `TFCLIPModel` (both towers, their embeddings in a shared space and the contrastive loss), and each tower alone
(`TFCLIPTextModel`, `TFCLIPVisionModel`). The towers are in `towers_clip.py`."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfmodels import input_checks
from tfmodels.call_inputs import unpack_inputs
from tfmodels.image_processing import ImageProcessor
from tfmodels.layers import losses
from tfmodels.modeling_outputs import ModelOutput, TFCLIPOutput
from tfmodels.models.clip.configuration_clip import CLIPConfig, CLIPTextConfig, CLIPVisionConfig
from tfmodels.models.clip.towers_clip import CLIPMain, CLIPTextMain, CLIPVisionMain
from tfmodels.models.clip.weights_clip import CLIP_WEIGHTS
from tfmodels.tasks import ImageTaskModel, TaskModel

# The reference's CLIPImageProcessor: normalised with the statistics of CLIP's training images.
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
# Served outputs: the similarities and the embeddings (a signature returns tensors, not the towers' outputs).
SERVED = ("logits_per_image", "logits_per_text", "text_embeds", "image_embeds")


def check_text(arguments: dict[str, Any], config: CLIPTextConfig) -> dict[str, Any]:
    """CLIP's text inputs checked: ids inside the vocabulary, at most `max_position_embeddings` of them, masks of
    their shape."""
    if arguments.get("input_ids") is None:
        raise ValueError("Pass input_ids: CLIP's text tower reads token ids (it pools at the end-of-text token).")
    return input_checks.check_model_inputs(arguments, config.vocab_size, config.hidden_size,
                                           config.max_position_embeddings, (2,), None, "input_ids")


class TFCLIPPreTrainedModel(TaskModel):
    """CLIP's architecture: every class holds one `clip` layer (its PyTorch keys have no prefix) and reads the weight
    table `CLIP_WEIGHTS`; the classes that take images preprocess them as the reference's `CLIPImageProcessor`."""

    config_class = CLIPConfig
    base_model_prefix = "clip"
    weight_table = CLIP_WEIGHTS
    bare_backbone = True

    def uses_pooler(self) -> bool:
        return True

    def forward(self, inputs, labels, training):
        return self.encode(inputs, training)

    def default_image_processor(self) -> ImageProcessor:
        """The reference's `CLIPImageProcessor` at the tower's image size: the shortest edge resized (bicubic), the
        center cropped, CLIP's statistics."""
        size = self.vision_config.image_size
        return ImageProcessor(size={"shortest_edge": size}, resample=3, do_center_crop=True,
                              crop_size={"height": size, "width": size}, image_mean=CLIP_MEAN, image_std=CLIP_STD,
                              image_processor_type="CLIPImageProcessor")


class TFCLIPTextModel(TFCLIPPreTrainedModel):
    """CLIP's text tower: `last_hidden_state` (after the final LayerNorm) and `pooler_output`, the state at each row's
    end-of-text token (not projected).

    Example:
        >>> model = TFCLIPTextModel.from_pretrained("openai/clip-vit-base-patch32")
        >>> model(input_ids=ids, attention_mask=mask).pooler_output  # [batch, 512]
    """

    config_class = CLIPTextConfig

    def make_backbone(self, config, add_pooling_layer: bool) -> CLIPTextMain:
        return CLIPTextMain(config, self.weight_table.blocks, name=self.base_model_prefix)

    def check_inputs(self, arguments: dict[str, Any]) -> dict[str, Any]:
        return check_text(arguments, self.config)

    def max_sequence_length(self) -> int | None:
        return self.config.max_position_embeddings

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, position_ids=None, output_attentions=None,
             output_hidden_states=None, return_dict=None, training=False) -> ModelOutput | tuple:
        return self.run_task(locals())


class TFCLIPVisionModel(TFCLIPPreTrainedModel, ImageTaskModel):
    """CLIP's vision tower: `last_hidden_state` (the stack's output) and `pooler_output`, the class token's state after
    `post_layernorm` (not projected). `interpolate_pos_encoding=True` takes other image sizes.

    Example:
        >>> model = TFCLIPVisionModel.from_pretrained("openai/clip-vit-base-patch32")
        >>> model(pixel_values=model.image_processor(images)["pixel_values"]).pooler_output  # [batch, 768]
    """

    config_class = CLIPVisionConfig

    def make_backbone(self, config, add_pooling_layer: bool) -> CLIPVisionMain:
        return CLIPVisionMain(config, self.weight_table.blocks, name=self.base_model_prefix)

    def get_input_embeddings(self) -> keras.layers.Layer:
        """The patch convolution (as the reference)."""
        return self.backbone.embeddings.patch_embedding

    @unpack_inputs
    def call(self, pixel_values=None, output_attentions=None, output_hidden_states=None, return_dict=None,
             training=False, interpolate_pos_encoding=None) -> ModelOutput | tuple:
        return self.run_task(locals())


class TFCLIPModel(TFCLIPPreTrainedModel, ImageTaskModel):
    """CLIP: texts and images embedded in one space (`text_embeds`, `image_embeds`, normalised), their similarities
    scaled by the learned temperature (`logits_per_image` `[images, texts]`, `logits_per_text` its transpose), and
    with `return_loss=True` the contrastive loss (the i-th text belongs to the i-th image), which `fit` and
    `evaluate` ask for (`loss_call_flags`).

    Example:
        >>> model = TFCLIPModel.from_pretrained("openai/clip-vit-base-patch32")
        >>> out = model(input_ids=ids, attention_mask=mask, pixel_values=pixels)
        >>> tf.nn.softmax(out.logits_per_image, axis=-1)  # each image's probabilities over the texts
    """

    main_input_name = "input_ids"
    loss_call_flags = {"return_loss": True}

    def make_backbone(self, config, add_pooling_layer: bool) -> CLIPMain:
        return CLIPMain(config, self.weight_table.blocks, name=self.base_model_prefix)

    @property
    def vision_config(self) -> CLIPVisionConfig:
        return self.config.vision_config

    def get_input_embeddings(self) -> keras.layers.Layer:
        """The text tower's token embeddings."""
        return self.backbone.get_input_embeddings()

    def check_inputs(self, arguments: dict[str, Any]) -> dict[str, Any]:
        return ImageTaskModel.check_inputs(self, check_text(arguments, self.config.text_config))

    def max_sequence_length(self) -> int | None:
        return self.config.text_config.max_position_embeddings

    @property
    def input_signature(self) -> dict[str, tf.TensorSpec]:
        """`input_ids`, `attention_mask` (int32 `[batch, length]`) and `pixel_values`."""
        text = {name: tf.TensorSpec([None, None], tf.int32, name=name) for name in ("input_ids", "attention_mask")}
        return {**text, **ImageTaskModel.input_signature.fget(self)}

    def make_dummy_inputs(self, batch_size: int = 1, length: int = 2, num_choices: int = 2) -> dict[str, tf.Tensor]:
        """`batch_size` texts of `length` ids (`1, 2, ...`) and as many images."""
        ids = tf.reshape(tf.range(batch_size * length, dtype=tf.int32) % (self.config.text_config.vocab_size - 1) + 1,
                         [batch_size, length])
        return {"input_ids": ids, "attention_mask": tf.ones_like(ids),
                **ImageTaskModel.make_dummy_inputs(self, batch_size)}

    def forward(self, inputs, labels, training):
        return_loss = inputs.pop("return_loss")
        text, vision, text_embeds, image_embeds, logits_per_text = self.backbone(**inputs, training=training)
        loss = None
        if return_loss:
            loss = losses.contrastive_loss(logits_per_text)
        return TFCLIPOutput(loss=loss, logits_per_image=tf.transpose(logits_per_text), logits_per_text=logits_per_text,
                            text_embeds=text_embeds, image_embeds=image_embeds, text_model_output=text,
                            vision_model_output=vision)

    def serving_output(self, output) -> dict[str, tf.Tensor]:
        """The similarities and the embeddings (the towers' own outputs stay out of a signature)."""
        return {name: output[name] for name in SERVED}

    @unpack_inputs
    def call(self, input_ids=None, pixel_values=None, attention_mask=None, position_ids=None, return_loss=None,
             output_attentions=None, output_hidden_states=None, return_dict=None, training=False,
             interpolate_pos_encoding=None) -> ModelOutput | tuple:
        return self.run_task(locals())

    def get_text_features(self, input_ids=None, attention_mask=None, position_ids=None, output_attentions=None,
                          output_hidden_states=None, return_dict=None, training=False) -> tf.Tensor:
        """The texts' embeddings `[batch, projection_dim]` (projected, not normalised), as the reference.

        Example:
            >>> model.get_text_features(input_ids=ids, attention_mask=mask)
        """
        arguments = check_text({"input_ids": input_ids, "attention_mask": attention_mask,
                                "position_ids": position_ids}, self.config.text_config)
        text = self.backbone.text_model(arguments["input_ids"], attention_mask=arguments["attention_mask"],
                                        position_ids=arguments["position_ids"], training=training)
        return self.backbone.text_projection(text["pooler_output"])

    def get_image_features(self, pixel_values=None, output_attentions=None, output_hidden_states=None,
                           return_dict=None, training=False, interpolate_pos_encoding=None) -> tf.Tensor:
        """The images' embeddings `[batch, projection_dim]` (projected, not normalised), as the reference.

        Example:
            >>> model.get_image_features(pixel_values=pixels)
        """
        arguments = ImageTaskModel.check_inputs(self, {"pixel_values": pixel_values,
                                                       "interpolate_pos_encoding": interpolate_pos_encoding})
        vision = self.backbone.vision_model(arguments["pixel_values"],
                                            interpolate_pos_encoding=bool(interpolate_pos_encoding), training=training)
        return self.backbone.visual_projection(vision["pooler_output"])

    def raw_input_serving_functions(self) -> dict[str, tuple]:
        """`serving_image_bytes`: encoded images (`images`, `tf.string` `[images]`) with the texts' `input_ids` and
        `attention_mask`, the images processed in the graph; returns `serving_default`'s outputs."""
        processor = self.image_processor
        if processor.output_size is None:  # images of their own sizes: no signature (ImageTaskModel says why)
            return ImageTaskModel.raw_input_serving_functions(self)

        def serving_image_bytes(inputs):
            pixel_values = processor.process_encoded(inputs["images"])
            return self.serving({"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"],
                                 "pixel_values": pixel_values})

        specs = {"images": tf.TensorSpec([None], tf.string, name="images"),
                 **{name: tf.TensorSpec([None, None], tf.int32, name=name) for name in ("input_ids", "attention_mask")}}
        return {"serving_image_bytes": (serving_image_bytes, [specs])}

    def raw_check_inputs(self) -> list[dict[str, np.ndarray]]:
        """Two generated PNG images (`ImageTaskModel.raw_check_inputs`) and three texts, one of them padded."""
        ids = np.array([[1, 5, 9, 4], [1, 7, 3, 0], [1, 8, 8, 6]], np.int32) % self.config.text_config.vocab_size
        mask = np.array([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 1, 1]], np.int32)
        return [{**ImageTaskModel.raw_check_inputs(self)[0], "input_ids": ids, "attention_mask": mask}]
