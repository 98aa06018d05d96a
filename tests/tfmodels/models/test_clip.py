"""CLIP: each tower's outputs inside the model and the features methods against the reference, the two pooling
rules, the config with its nested towers, training on the contrastive loss, and an export that answers from encoded
images and token ids."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch
import transformers

import tfmodels
from serving import export_saved_model
from tests.helpers import Case
from tests.tfmodels.models.model_checks import tiny_batch, tiny_model
from tfmodels.image_processing import ImageProcessor


@pytest.fixture(scope="module")
def clip():
    case = Case("clip_model")
    io_arrays = np.load(os.path.join(case.root, "io.npz"))
    return case, io_arrays, tfmodels.TFCLIPModel.from_pretrained(case.path("tf_h5"))


def test_towers_and_features_match_the_reference(clip):
    """The towers' own outputs inside `TFCLIPModel` (pooled before projection, as transformers 4) and
    `get_text_features` / `get_image_features` (projected; transformers 5 returns them as the towers' pooler
    output), within 1e-5 of the reference's PyTorch."""
    case, io_arrays, model = clip
    out = model(**case.inputs, return_loss=True)
    for tower, output in (("text", out.text_model_output), ("vision", out.vision_model_output)):
        for field in ("last_hidden_state", "pooler_output"):
            np.testing.assert_allclose(output[field], io_arrays[f"pt.{tower}_{field}"], atol=1e-5, rtol=0)
    text = model.get_text_features(input_ids=case.inputs["input_ids"], attention_mask=case.inputs["attention_mask"])
    image = model.get_image_features(pixel_values=case.inputs["pixel_values"])
    reference = transformers.CLIPModel.from_pretrained(case.path("pt_safetensors")).eval()
    with torch.no_grad():
        pt_text = reference.get_text_features(input_ids=torch.tensor(case.inputs["input_ids"]).long(),
                                              attention_mask=torch.tensor(case.inputs["attention_mask"]).long())
        pt_image = reference.get_image_features(pixel_values=torch.tensor(case.inputs["pixel_values"]))
    np.testing.assert_allclose(text, pt_text.pooler_output.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(image, pt_image.pooler_output.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(text / np.linalg.norm(text, axis=-1, keepdims=True), case.reference["text_embeds"],
                               atol=1e-5, rtol=0)
    assert "loss" not in model(**case.inputs)  # the loss only when asked for, as the reference


def test_pooling_rules_pick_the_end_of_text_token():
    """With `eos_token_id == 2` the highest id is pooled (the reference's legacy rule), otherwise the first
    `eos_token_id`: a row holding the end-of-text id twice pools at the first."""
    ids = np.array([[0, 7, 9, 5, 9, 1]], np.int32)
    for eos, position in ((2, 2), (9, 2), (5, 3)):
        config = tfmodels.CLIPTextConfig(vocab_size=12, hidden_size=8, intermediate_size=8, num_hidden_layers=1,
                                         num_attention_heads=2, max_position_embeddings=8, eos_token_id=eos)
        model = tfmodels.TFCLIPTextModel(config)
        out = model(input_ids=ids)
        np.testing.assert_array_equal(out.pooler_output, out.last_hidden_state[:, position])


def test_config_holds_its_towers_as_the_reference_writes_them(tmp_path):
    config = tfmodels.CLIPConfig(text_config={"vocab_size": 50, "hidden_size": 16}, vision_config=tfmodels.CLIPVisionConfig(
        image_size=32), projection_dim=8)
    assert config.text_config.vocab_size == 50 and config.vision_config.image_size == 32
    config.save_pretrained(tmp_path)
    written = json.loads((tmp_path / "config.json").read_text())
    assert written["text_config"]["model_type"] == "clip_text_model" and "pad_token_id" not in written["text_config"]
    assert tfmodels.AutoConfig.from_pretrained(tmp_path) == config
    theirs = transformers.CLIPConfig.from_pretrained(tmp_path)
    assert (theirs.text_config.vocab_size, theirs.vision_config.image_size, theirs.projection_dim) == (50, 32, 8)
    with pytest.raises(TypeError, match="must be a dict or a CLIPTextConfig"):
        tfmodels.CLIPConfig(text_config=[1, 2])
    with pytest.raises(tfmodels.ConfigError, match=r"CLIPVisionConfig.patch_size must be a positive integer"):
        tfmodels.TFCLIPModel(tfmodels.CLIPConfig(vision_config={"patch_size": 0}))


def test_fit_trains_on_the_contrastive_loss_and_matches_texts_to_images():
    model = tiny_model("TFCLIPModel")
    inputs, _ = tiny_batch(model)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="auto")
    history = model.fit(inputs, epochs=60, batch_size=4, verbose=0).history["loss"]
    assert history[-1] < 0.25 * history[0]
    predicted = np.argmax(model(inputs).logits_per_image, axis=-1)
    # Images 0 and 3 share a class (and their texts a first token): either of their texts is right.
    assert [int(p) % 3 for p in predicted] == [0, 1, 2, 0]


@pytest.mark.slow
def test_export_answers_from_encoded_images_and_token_ids(clip, tmp_path):
    """`serving_image_bytes` takes PNG bytes with the texts' ids, processes the images in the graph as the
    reference's `CLIPImageProcessor` (shortest edge, center crop), and answers as the model; verified in a
    TensorFlow-only process."""
    case, _, model = clip
    assert model.image_processor.to_dict()["crop_size"] == {"height": 30, "width": 30}
    path = export_saved_model(model, tmp_path / "export")
    loaded = tf.saved_model.load(path)
    assert sorted(loaded.signatures) == ["int64_serving", "serving_default", "serving_image_bytes"]
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (40, 52, 3), dtype=np.uint8), rng.integers(0, 256, (64, 30, 3), dtype=np.uint8)]
    encoded = tf.constant([tf.io.encode_png(image).numpy() for image in images])
    ids, mask = case.inputs["input_ids"], case.inputs["attention_mask"]
    served = loaded.signatures["serving_image_bytes"](images=encoded, input_ids=ids, attention_mask=mask)
    expected = model(input_ids=ids, attention_mask=mask, pixel_values=model.image_processor(images)["pixel_values"])
    assert served["logits_per_image"].shape == (2, 3)
    for name in ("logits_per_image", "logits_per_text", "text_embeds", "image_embeds"):
        np.testing.assert_allclose(served[name], expected[name], atol=1e-5, rtol=1e-5, err_msg=name)
    reference = transformers.CLIPImageProcessorPil(**ImageProcessor(**model.image_processor.to_dict()).to_dict())
    np.testing.assert_allclose(model.image_processor(images)["pixel_values"],
                               reference(images=images, return_tensors="np")["pixel_values"], atol=0.03, rtol=0)
