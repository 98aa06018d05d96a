"""ViT: positions resampled for other image sizes as the reference does (against its PyTorch outputs and PyTorch's
own bicubic interpolation), the checks of `pixel_values`, and exports that answer from encoded images."""

import io
import os

import numpy as np
import pytest
import tensorflow as tf
import torch
import transformers
from PIL import Image

import tfmodels
from serving import export_saved_model
from tests.helpers import Case
from tfmodels.image_processing import ImageProcessor
from tfmodels.layers.vision import bicubic_matrix

TINY = dict(image_size=30, patch_size=6, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=37)


@pytest.fixture(scope="module")
def vit_base():
    case = Case("vit_base")
    return case, tfmodels.TFViTModel.from_pretrained(case.path("pt_safetensors"))


@pytest.mark.parametrize(("rows", "columns"), [(5, 7), (5, 3), (9, 9), (2, 11)])
def test_bicubic_matrix_is_pytorchs_interpolation(rows, columns):
    grid = np.random.default_rng(0).normal(size=(5, 5, 4)).astype(np.float32)
    expected = torch.nn.functional.interpolate(torch.tensor(grid).permute(2, 0, 1)[None], size=(rows, columns),
                                               mode="bicubic", align_corners=False)[0].permute(1, 2, 0).numpy()
    got = np.einsum("hr,rcd,wc->hwd", bicubic_matrix(5, rows), grid, bicubic_matrix(5, columns))
    np.testing.assert_allclose(got, expected, atol=2e-6, rtol=0)


def test_other_image_sizes_match_the_reference(vit_base):
    """A 42 x 36 image (7 x 6 patches on a 5 x 5 table) gives the reference's PyTorch states, eagerly and in a graph
    whose image size is unknown until it runs (an export's)."""
    case, model = vit_base
    io_arrays = np.load(os.path.join(case.root, "io.npz"))
    pixels, expected = io_arrays["interp.input.pixel_values"], io_arrays["interp.pt.last_hidden_state"]
    eager = model(pixel_values=pixels, interpolate_pos_encoding=True).last_hidden_state
    np.testing.assert_allclose(eager, expected, atol=1e-5, rtol=0)
    traced = tf.function(lambda x: model(pixel_values=x, interpolate_pos_encoding=True).last_hidden_state,
                         input_signature=[tf.TensorSpec([None, 3, None, None], tf.float32)])
    np.testing.assert_allclose(traced(pixels), expected, atol=1e-5, rtol=0)
    # The config's own size resamples nothing: the table's positions exactly.
    same = model(pixel_values=case.inputs["pixel_values"], interpolate_pos_encoding=True).last_hidden_state
    np.testing.assert_array_equal(same, model(pixel_values=case.inputs["pixel_values"]).last_hidden_state)


def test_pixel_values_are_checked(vit_base):
    _, model = vit_base
    good = np.zeros((1, 3, 30, 30), np.float32)
    with pytest.raises(ValueError, match=r"Channels come first: tf.transpose"):
        model(pixel_values=np.transpose(good, (0, 2, 3, 1)))
    with pytest.raises(ValueError, match=r"30 pixels in height .* interpolate_pos_encoding=True"):
        model(pixel_values=np.zeros((1, 3, 36, 30), np.float32))
    with pytest.raises(TypeError, match="must be floats"):
        model(pixel_values=good.astype(np.uint8))
    with pytest.raises(ValueError, match="narrower than one patch"):
        model(pixel_values=np.zeros((1, 3, 4, 30), np.float32), interpolate_pos_encoding=True)
    with pytest.raises(ValueError, match="Pass pixel_values"):
        model(head_mask=None)
    # Sizes only the data knows: the graph asserts them when it runs.
    traced = tf.function(lambda x: model(pixel_values=x).last_hidden_state,
                         input_signature=[tf.TensorSpec([None, 3, None, None], tf.float32)])
    assert traced(good).shape == (1, 26, 32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="must be 30 pixels in width"):
        traced(np.zeros((1, 3, 30, 24), np.float32))


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [None, "bfloat16"])
def test_export_answers_from_encoded_images(dtype, tmp_path):
    """`serving_image_bytes` decodes and processes PNG and JPEG bytes in the graph, with the checkpoint's processor
    (here ImageNet statistics and bicubic resizing from `preprocessor_config.json`), and answers as the model does on
    the processor's output; the export is verified in a TensorFlow-only process, at half precision too."""
    case = Case("vit_imgcls")
    directory = case.copy("pt_safetensors", str(tmp_path))
    ImageProcessor(size=30, resample=3, image_mean=[0.485, 0.456, 0.406],
                   image_std=[0.229, 0.224, 0.225]).save_pretrained(directory)
    model = tfmodels.TFViTForImageClassification.from_pretrained(directory)
    assert model.image_processor.image_std == [0.229, 0.224, 0.225] and model.image_processor.resample == 3
    path = export_saved_model(model, tmp_path / "export", dtype=dtype)
    served = tf.saved_model.load(path).signatures["serving_image_bytes"]
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (45, 61, 3), dtype=np.uint8), rng.integers(0, 256, (30, 30, 3), dtype=np.uint8)]
    encoded = [_png(images[0]), _jpeg(images[1])]
    logits = served(images=tf.constant(encoded))["logits"].numpy()
    decoded = [images[0], tf.io.decode_jpeg(encoded[1], dct_method="INTEGER_ACCURATE").numpy()]  # JPEG is lossy
    expected = model(model.image_processor(decoded)).logits.numpy()
    np.testing.assert_allclose(logits, expected, atol=1e-5 if dtype is None else 5e-2, rtol=0)
    # The processor in the graph is the reference's, read from the same file (within one of 255 levels).
    reference = transformers.ViTImageProcessorPil.from_pretrained(directory)
    expected_pixels = reference(images=Image.fromarray(images[0]), return_tensors="np")["pixel_values"]
    pixels = model.image_processor(images[0])["pixel_values"].numpy()
    assert pixels.shape == expected_pixels.shape == (1, 3, 30, 30)
    levels = np.abs(pixels - expected_pixels) * np.array([0.229, 0.224, 0.225])[None, :, None, None] * 255
    assert levels.max() <= 1 + 1e-3


def test_export_without_raw_inputs_has_only_the_tensor_signature(tmp_path, caplog):
    model = tfmodels.TFViTModel(tfmodels.ViTConfig(**TINY))
    path = export_saved_model(model, tmp_path / "export", raw_inputs=False, verify=False)
    assert sorted(tf.saved_model.load(path).signatures) == ["serving_default"]
    # A processor whose output follows each image's size cannot batch encoded images: no such signature, and why.
    model.image_processor = ImageProcessor(size={"shortest_edge": 30})
    path = export_saved_model(model, tmp_path / "export", verify=False)
    assert sorted(tf.saved_model.load(path).signatures) == ["serving_default"]
    assert "has no serving_image_bytes signature" in caplog.text


def test_checkpoint_without_processor_gets_the_reference_default(tmp_path):
    """No `preprocessor_config.json`: ViT's reference defaults (bilinear, mean and std 0.5) at the config's size;
    `save_pretrained` writes it, so the saved checkpoint has one the reference reads."""
    case = Case("vit_imgcls")
    model = tfmodels.TFViTForImageClassification.from_pretrained(case.path("tf_h5"))
    assert model.image_processor.to_dict() == ImageProcessor(size={"height": 30, "width": 30}).to_dict()
    model.save_pretrained(tmp_path)
    assert ImageProcessor.from_pretrained(tmp_path) == model.image_processor
    with pytest.raises(TypeError, match="must be a tfmodels ImageProcessor"):
        model.image_processor = {"size": 30}
