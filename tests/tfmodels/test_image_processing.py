"""`ImageProcessor` against the reference's image processors (transformers' PIL-based `ViTImageProcessorPil` and
`CLIPImageProcessorPil`) on generated PNG and JPEG images, its `preprocessor_config.json`, and its bad input."""

import io
import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from transformers import CLIPImageProcessorPil, ViTImageProcessorPil

from tfmodels.image_processing import ImageProcessor


def scene(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A natural-looking 8-bit RGB image: smooth colour waves, a sharp-edged block and sensor-like noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    image = np.stack([128 + 100 * np.sin(6 * x + 3 * y), 128 + 100 * np.cos(5 * y - 2 * x), 255 * x * y], -1)
    image[height // 4:height // 2, width // 3:width // 2] = [250, 30, 30]
    image += rng.normal(0, 8, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def encoded(image: np.ndarray, image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=image_format, **({"quality": 90} if image_format == "JPEG" else {}))
    return buffer.getvalue()


REFERENCES = {"vit": ViTImageProcessorPil, "clip": CLIPImageProcessorPil}
SIZES = [(300, 400), (100, 90), (224, 224), (517, 333)]  # downscaling, upscaling, none, a tall one


@pytest.mark.parametrize("kind", sorted(REFERENCES))
@pytest.mark.parametrize("image_format", ["PNG", "JPEG"])
def test_matches_the_reference_processor(kind, image_format):
    """Within 1 of 255 levels anywhere, and 0.25 on average (PIL's fixed-point filter weights round some pixels the
    other way), downscaling, upscaling (bilinear for ViT, bicubic for CLIP) or not; a JPEG is decoded by each side's
    own libjpeg."""
    reference = REFERENCES[kind]()
    ours = ImageProcessor(**reference.to_dict())
    for index, (height, width) in enumerate(SIZES):
        data = encoded(scene(height, width, seed=index), image_format)
        expected = reference(images=Image.open(io.BytesIO(data)), return_tensors="np")["pixel_values"]
        got = ours(data, return_tensors="np")["pixel_values"]
        assert got.shape == expected.shape == (1, 3, 224, 224)
        levels = np.abs(got - expected) * np.array(reference.image_std)[None, :, None, None] * 255
        assert levels.max() <= 1 + 1e-3 and levels.mean() < 0.25, (height, width, levels.max(), levels.mean())
        # The export's path: a batch of encoded images, decoded and processed in one graph.
        np.testing.assert_allclose(ours.process_encoded(tf.constant([data, data])).numpy(), np.concatenate([got] * 2),
                                   atol=1e-6, rtol=0)


def test_same_size_images_are_only_rescaled_and_normalised():
    image = scene(224, 224)
    got = ImageProcessor(**ViTImageProcessorPil().to_dict())(image, return_tensors="np")["pixel_values"]
    np.testing.assert_allclose(got[0], (np.transpose(image, (2, 0, 1)) / 255 - 0.5) / 0.5, atol=1e-6)


def test_preprocessor_config_round_trips_with_the_reference(tmp_path):
    """Ours reads the file the reference writes; the reference reads ours and processes as before."""
    reference = CLIPImageProcessorPil(size={"shortest_edge": 64}, crop_size={"height": 48, "width": 48})
    reference.save_pretrained(tmp_path / "theirs")
    ours = ImageProcessor.from_pretrained(tmp_path / "theirs")
    assert ours.size == {"shortest_edge": 64} and ours.crop_size == {"height": 48, "width": 48}
    assert ours.resample == 3 and ours.do_center_crop and ours.output_size == (48, 48)
    ours.save_pretrained(tmp_path / "ours")
    written = json.loads((tmp_path / "ours" / "preprocessor_config.json").read_text())
    assert written["image_processor_type"] == "CLIPImageProcessor" and written["image_std"] == list(
        reference.image_std)
    again = CLIPImageProcessorPil.from_pretrained(tmp_path / "ours")
    image = Image.fromarray(scene(80, 120))
    np.testing.assert_array_equal(again(images=image, return_tensors="np")["pixel_values"],
                                  reference(images=image, return_tensors="np")["pixel_values"])


def test_gray_and_transparent_images_become_rgb():
    processor = ImageProcessor(size=8)
    rgb = scene(8, 8)
    gray = rgb[..., :1]
    expected_gray = processor(np.repeat(gray, 3, -1), return_tensors="np")["pixel_values"]
    np.testing.assert_array_equal(processor(gray, return_tensors="np")["pixel_values"], expected_gray)
    rgba = np.concatenate([rgb, np.full((8, 8, 1), 255, np.uint8)], -1)
    np.testing.assert_array_equal(processor(encoded(rgba, "PNG"), return_tensors="np")["pixel_values"],
                                  processor(rgb, return_tensors="np")["pixel_values"])
    assert processor([rgb, Image.fromarray(rgb)])["pixel_values"].shape == (2, 3, 8, 8)


@pytest.mark.parametrize(("settings", "message"), [
    ({"size": {"height": 0, "width": 4}}, "positive sizes"),
    ({"size": {"longest_edge": 4}}, "shortest_edge"),
    ({"resample": 9}, "PIL's codes"),
    ({"do_center_crop": True}, "needs crop_size"),
    ({"image_mean": [0.5], "image_std": [0.5, 0.5]}, "one value per channel"),
])
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        ImageProcessor(**settings)


def test_bad_images_are_refused(tmp_path):
    processor = ImageProcessor(size=8)
    with pytest.raises(ValueError, match=r"channels first\?"):
        processor(np.zeros((3, 20, 20), np.uint8))
    with pytest.raises(ValueError, match=r"\[height, width, channels\]"):
        processor(np.zeros((20, 20), np.uint8))
    with pytest.raises(TypeError, match="array of pixel values"):
        processor(np.array(["a picture"]))
    with pytest.raises(tf.errors.InvalidArgumentError):
        processor(b"not an image")
    with pytest.raises(ValueError, match="different sizes"):
        ImageProcessor(size={"shortest_edge": 8})([scene(8, 16), scene(8, 8)])
    with pytest.raises(ValueError, match="fixed output size"):
        ImageProcessor(size={"shortest_edge": 8}).process_encoded(tf.constant([encoded(scene(8, 8), "PNG")]))
    (tmp_path / "preprocessor_config.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="must hold a JSON object"):
        ImageProcessor.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="No preprocessor_config.json"):
        ImageProcessor.from_pretrained(tmp_path / "missing")
