"""Image preprocessing in TensorFlow ops, as the reference's image processors define it (`ViTImageProcessor`,
`CLIPImageProcessor`): decode, convert to RGB, resize, center-crop, rescale and normalise, read from and written to
the checkpoint's `preprocessor_config.json`. Being TensorFlow ops, it also runs inside an exported signature, so a
TF Serving client can send encoded images (`serving_image_bytes`).

The reference resizes with PIL on 8-bit images, the width and then the height, rounding each pass to 8 bits; here
each pass is `tf.image.resize` with antialiasing, rounded the same way. The two agree to a level or two of 255
(`tests/tfmodels/test_image_processing.py` measures it against the reference's processors).

Example:
    >>> processor = ImageProcessor.from_pretrained("google/vit-base-patch16-224")
    >>> pixel_values = processor([image_a, image_b])["pixel_values"]  # [2, 3, 224, 224] float32
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tfmodels.preprocessor_files import preprocessor_json, read_preprocessor_config, write_preprocessor_config

# PIL's resampling codes (the reference stores them in `resample`) -> `tf.image.resize` methods.
RESAMPLE_METHODS = {0: "nearest", 1: "lanczos5", 2: "bilinear", 3: "bicubic", 4: "area", 5: "lanczos3"}
IMAGENET_STANDARD = [0.5, 0.5, 0.5]


class ImageProcessor:
    """The reference's image-processor settings and their TensorFlow implementation.

    `size` is `{"height", "width"}` (resize to exactly that, ViT) or `{"shortest_edge"}` (keep the aspect ratio,
    CLIP); `crop_size` `{"height", "width"}` is cut from the center when `do_center_crop`. Pixels are rescaled by
    `rescale_factor` and normalised by `image_mean` / `image_std` per channel; outputs are float32
    `[batch, channels, height, width]`.

    Example:
        >>> processor = ImageProcessor(size={"height": 32, "width": 32})
        >>> processor(np.zeros((40, 50, 3), np.uint8))["pixel_values"].shape
        TensorShape([1, 3, 32, 32])
    """

    def __init__(self, do_resize: bool = True, size: dict[str, int] | int | None = None, resample: int = 2,
                 do_center_crop: bool = False, crop_size: dict[str, int] | int | None = None,
                 do_rescale: bool = True, rescale_factor: float = 1 / 255, do_normalize: bool = True,
                 image_mean: Sequence[float] | None = None, image_std: Sequence[float] | None = None,
                 do_convert_rgb: bool = True, image_processor_type: str = "ViTImageProcessor", **kwargs: Any):
        self.do_resize, self.do_center_crop = bool(do_resize), bool(do_center_crop)
        self.size = _size_dict(size if size is not None else {"height": 224, "width": 224}, "size")
        self.crop_size = _size_dict(crop_size, "crop_size") if crop_size is not None else None
        if self.do_center_crop and (self.crop_size is None or "height" not in self.crop_size):
            raise ValueError(f"do_center_crop needs crop_size with height and width; received {crop_size!r}.")
        if int(resample) not in RESAMPLE_METHODS:
            raise ValueError(f"resample must be one of PIL's codes {sorted(RESAMPLE_METHODS)}; received {resample!r}.")
        self.resample = int(resample)
        self.do_rescale, self.rescale_factor = bool(do_rescale), float(rescale_factor)
        self.do_normalize = bool(do_normalize)
        self.image_mean = [float(v) for v in (image_mean if image_mean is not None else IMAGENET_STANDARD)]
        self.image_std = [float(v) for v in (image_std if image_std is not None else IMAGENET_STANDARD)]
        if len(self.image_mean) != len(self.image_std) or any(v <= 0 for v in self.image_std):
            raise ValueError(f"image_mean and image_std need one value per channel, std positive; received "
                             f"{self.image_mean} and {self.image_std}.")
        self.do_convert_rgb = bool(do_convert_rgb)
        self.image_processor_type = image_processor_type
        self.extra = kwargs  # other fields of the reference's file, written back unchanged

    # ---- files --------------------------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, **kwargs: Any) -> "ImageProcessor":
        """Read `preprocessor_config.json` from a directory (or that file's path); `kwargs` override its fields."""
        return cls(**{**read_preprocessor_config(path), **kwargs})

    def to_dict(self) -> dict[str, Any]:
        """The settings as the reference writes them in `preprocessor_config.json`."""
        settings = {**self.extra, "do_resize": self.do_resize, "size": dict(self.size), "resample": self.resample,
                    "do_center_crop": self.do_center_crop, "do_rescale": self.do_rescale,
                    "rescale_factor": self.rescale_factor, "do_normalize": self.do_normalize,
                    "image_mean": list(self.image_mean), "image_std": list(self.image_std),
                    "do_convert_rgb": self.do_convert_rgb, "image_processor_type": self.image_processor_type}
        if self.crop_size is not None:
            settings["crop_size"] = dict(self.crop_size)
        return settings

    def to_json_string(self) -> str:
        """`preprocessor_config.json`'s text: sorted keys, indent 2, a final newline."""
        return preprocessor_json(self.to_dict())

    def save_pretrained(self, directory: str | os.PathLike) -> str:
        """Write `preprocessor_config.json` into `directory`; returns its path."""
        return write_preprocessor_config(directory, self.to_dict())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ImageProcessor) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"ImageProcessor({self.to_dict()})"

    # ---- processing ---------------------------------------------------------------------------------------------
    @property
    def output_size(self) -> tuple[int, int] | None:
        """`(height, width)` of every processed image, or None when it follows each image (no crop, shortest edge)."""
        if self.do_center_crop:
            return self.crop_size["height"], self.crop_size["width"]
        if "height" in self.size:
            return self.size["height"], self.size["width"]
        return None

    def resized_shape(self, height, width) -> tuple[tf.Tensor, tf.Tensor]:
        """The size an image of `height x width` is resized to (`shortest_edge`: the reference's rounding down of
        the long side)."""
        if "height" in self.size:
            return tf.constant(self.size["height"]), tf.constant(self.size["width"])
        short = self.size["shortest_edge"]
        height, width = tf.cast(height, tf.float64), tf.cast(width, tf.float64)
        long_side = tf.cast(short * tf.maximum(height, width) / tf.minimum(height, width), tf.int32)
        return (tf.where(width <= height, long_side, short), tf.where(width <= height, short, long_side))

    def process_image(self, image: tf.Tensor) -> tf.Tensor:
        """One image, `[height, width, channels]` of 8-bit values (uint8 or floats 0-255), to float32
        `[channels, height, width]`."""
        image = tf.convert_to_tensor(image)
        if image.shape.rank != 3:
            raise ValueError(f"An image must be [height, width, channels]; received shape {image.shape.as_list()}.")
        if self.do_convert_rgb:
            image = _to_rgb(image)
        image = tf.cast(image, tf.float32)
        if self.do_resize:
            height, width = self.resized_shape(tf.shape(image)[0], tf.shape(image)[1])
            method = RESAMPLE_METHODS[self.resample]
            # As PIL on 8-bit images: the width first, then the height, each pass rounded and clipped to 8 bits.
            for size in (tf.stack([tf.shape(image)[0], width]), tf.stack([height, width])):
                image = tf.image.resize(image, size, method=method, antialias=method != "nearest")
                image = tf.clip_by_value(tf.round(image), 0.0, 255.0)
        if self.do_center_crop:
            image = _center_crop(image, self.crop_size["height"], self.crop_size["width"])
        if self.do_rescale:
            image = image * self.rescale_factor
        if self.do_normalize:
            image = (image - tf.constant(self.image_mean)) / tf.constant(self.image_std)
        return tf.transpose(image, [2, 0, 1])

    def __call__(self, images: Any, return_tensors: str = "tf") -> dict[str, tf.Tensor | np.ndarray]:
        """Process one image or a list of them (PIL images, `[height, width, channels]` arrays or tensors of 8-bit
        values, or encoded PNG/JPEG/GIF/BMP bytes) into `{"pixel_values": [batch, channels, height, width]}`
        (`return_tensors="np"` for NumPy)."""
        if return_tensors not in ("tf", "np"):
            raise ValueError(f"return_tensors must be 'tf' or 'np'; received {return_tensors!r}.")
        if isinstance(images, (bytes, np.ndarray, tf.Tensor)) or hasattr(images, "convert"):
            images = [images]
        processed = [self.process_image(_as_image(image)) for image in images]
        shapes = {tuple(value.shape) for value in processed}
        if len(shapes) > 1:
            raise ValueError(f"The processed images have different sizes {sorted(shapes)}; set a fixed size "
                             "({'height', 'width'}) or do_center_crop.")
        pixel_values = tf.stack(processed)
        return {"pixel_values": pixel_values.numpy() if return_tensors == "np" else pixel_values}

    def process_encoded(self, encoded: tf.Tensor) -> tf.Tensor:
        """A batch of encoded images (`tf.string` `[batch]`: PNG, JPEG, GIF's first frame, BMP) decoded and
        processed to `[batch, channels, height, width]`: what the export's `serving_image_bytes` runs."""
        size = self.output_size
        if size is None:
            raise ValueError("Encoded images of different sizes need a fixed output size: set size "
                             "{'height', 'width'} or do_center_crop.")
        channels = len(self.image_mean)
        spec = tf.TensorSpec([channels, *size], tf.float32)
        return tf.map_fn(lambda data: self.process_image(_decode(data)), encoded, fn_output_signature=spec)


def _size_dict(size: dict[str, int] | int, name: str) -> dict[str, int]:
    if isinstance(size, int) and not isinstance(size, bool):
        return {"height": size, "width": size}
    if isinstance(size, dict):
        if set(size) == {"height", "width"} or set(size) == {"shortest_edge"}:
            if all(isinstance(v, int) and v > 0 for v in size.values()):
                return {key: int(value) for key, value in size.items()}
    raise ValueError(f"{name} must be an integer, {{'height': H, 'width': W}} or {{'shortest_edge': S}} with "
                     f"positive sizes; received {size!r}.")


def _to_rgb(image: tf.Tensor) -> tf.Tensor:
    """Grayscale to RGB, and RGBA without its alpha channel (as PIL's `convert("RGB")` on opaque images)."""
    channels = image.shape[-1]
    if channels == 1:
        return tf.image.grayscale_to_rgb(image)
    if channels == 4:
        return image[..., :3]
    if channels is not None and channels != 3:
        raise ValueError(f"An image has 1, 3 or 4 channels; received {channels}.")
    return image


def _center_crop(image: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """The reference's center crop: offsets `(size - crop) // 2`, padded with zeros where the image is smaller."""
    image_height, image_width = tf.shape(image)[0], tf.shape(image)[1]
    pad_height, pad_width = tf.maximum(height - image_height, 0), tf.maximum(width - image_width, 0)
    image = tf.pad(image, [[pad_height // 2, pad_height - pad_height // 2],
                           [pad_width // 2, pad_width - pad_width // 2], [0, 0]])
    top = (tf.shape(image)[0] - height) // 2
    left = (tf.shape(image)[1] - width) // 2
    return image[top:top + height, left:left + width]


def _decode(data: tf.Tensor) -> tf.Tensor:
    """Encoded bytes to `[height, width, 3]` uint8; JPEG with libjpeg's accurate integer transform, as PIL decodes
    it (TensorFlow's default, the fast one, is off by up to 4 levels)."""
    return tf.cond(tf.io.is_jpeg(data),
                   lambda: tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"),
                   lambda: tf.io.decode_image(data, channels=3, expand_animations=False))


def _as_image(image: Any) -> tf.Tensor:
    if isinstance(image, bytes):
        return _decode(tf.constant(image))
    if hasattr(image, "convert"):  # a PIL image
        return tf.constant(np.asarray(image.convert("RGB")))
    array = image if tf.is_tensor(image) else np.asarray(image)
    if array.dtype == object or getattr(array.dtype, "kind", "f") in "USV":
        raise TypeError(f"An image must be an array of pixel values, a PIL image or encoded bytes; received "
                        f"dtype {array.dtype}.")
    if len(array.shape) == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        raise ValueError(f"Images are [height, width, channels]; received shape {tuple(array.shape)} (channels "
                         "first?). Transpose it: np.transpose(image, (1, 2, 0)).")
    return tf.convert_to_tensor(array)
