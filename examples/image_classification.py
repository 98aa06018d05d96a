"""Train a small ViT from a config to tell three kinds of picture apart, from PNG files on disk, measure validation
accuracy before and after, save it (PyTorch layout + preprocessor_config.json) and export it for TF Serving with a
signature that takes the encoded images a client has.

    python examples/image_classification.py [--images-per-class 300] [--epochs 8] [--output-dir vit_out] [--quick]

No download: the script draws its own pictures (horizontal stripes, vertical stripes, a disc; random colours,
sizes from 40 to 72 pixels, noise) and writes them as PNG files in `OUTPUT_DIR/images/<class>/`, then reads them
back as a `datasets.Dataset` with an `Image` column, as a user's own folder of photos would be. `prepare_tf_dataset`
turns the images into `pixel_values` with the model's image processor. `--quick` (few images, one epoch) only
checks that everything runs.
"""

from __future__ import annotations

import argparse
import json
import os

CLASSES = ("horizontal_stripes", "vertical_stripes", "disc")


def draw(kind: str, rng) -> "np.ndarray":
    """One 8-bit RGB picture of `kind`, of a random size, colours and phase, with noise.

    Example:
        >>> draw("disc", np.random.default_rng(0)).shape  # e.g. (57, 44, 3)
    """
    import numpy as np

    height, width = rng.integers(40, 73, 2)
    rows, columns = np.mgrid[0:height, 0:width]
    period = rng.integers(10, 19)
    if kind == "horizontal_stripes":
        mask = ((rows + rng.integers(period)) // (period // 2)) % 2 == 0
    elif kind == "vertical_stripes":
        mask = ((columns + rng.integers(period)) // (period // 2)) % 2 == 0
    else:
        radius = rng.uniform(0.25, 0.45) * min(height, width)
        center = rng.uniform(0.4, 0.6, 2) * (height, width)
        mask = (rows - center[0]) ** 2 + (columns - center[1]) ** 2 < radius ** 2
    foreground, background = rng.integers(0, 256, (2, 3))
    image = np.where(mask[..., None], foreground, background) + rng.normal(0, 12, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def write_images(directory: str, per_class: int, seed: int) -> tuple[list[str], list[int]]:
    """`per_class` PNG files of each class under `directory/<class>/`; returns their paths and labels."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    paths, labels = [], []
    for label, kind in enumerate(CLASSES):
        os.makedirs(os.path.join(directory, kind), exist_ok=True)
        for index in range(per_class):
            path = os.path.join(directory, kind, f"{index:04d}.png")
            Image.fromarray(draw(kind, rng)).save(path)
            paths.append(path)
            labels.append(label)
    return paths, labels


def accuracy(model, dataset) -> float:
    """The share of the dataset's images the model classifies as labelled."""
    import numpy as np

    predictions, labels = [], []
    for features, targets in dataset:
        predictions.append(np.argmax(model(features).logits, axis=-1))
        labels.append(targets.numpy())
    return float(np.mean(np.concatenate(predictions) == np.concatenate(labels)))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images-per-class", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--output-dir", default="vit_out")
    parser.add_argument("--quick", action="store_true", help="a reduced run (tests): few images, one epoch")
    args = parser.parse_args(argv)
    if args.quick:
        args.images_per_class, args.epochs = 40, 1

    import datasets
    import keras
    import numpy as np
    import tensorflow as tf

    from serving import export_saved_model
    from tfmodels import TFViTForImageClassification, ViTConfig
    from tfmodels.image_processing import ImageProcessor

    keras.utils.set_random_seed(0)
    paths, labels = write_images(os.path.join(args.output_dir, "images"), args.images_per_class, seed=0)
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=list(CLASSES))})
    folder = datasets.Dataset.from_dict({"image": paths, "label": labels}, features=features)
    split = folder.train_test_split(test_size=0.2, seed=0, stratify_by_column="label")

    config = ViTConfig(image_size=32, patch_size=8, hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
                       intermediate_size=128, num_labels=len(CLASSES), id2label=dict(enumerate(CLASSES)),
                       label2id={name: index for index, name in enumerate(CLASSES)})
    model = TFViTForImageClassification(config)
    model.image_processor = ImageProcessor(size=32)  # resize to 32 x 32, scale to [-1, 1]
    train = model.prepare_tf_dataset(split["train"], batch_size=32, shuffle=True, seed=0)
    validation = model.prepare_tf_dataset(split["test"], batch_size=64, shuffle=False)
    accuracy_before = accuracy(model, validation)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="auto")
    history = model.fit(train, epochs=args.epochs, verbose=2).history
    accuracy_after = accuracy(model, validation)
    print(f"validation accuracy: {accuracy_before:.3f} before training, {accuracy_after:.3f} after "
          f"{args.epochs} epochs")

    saved = os.path.join(args.output_dir, "model")
    model.save_pretrained(saved, safe_serialization=True)  # model.safetensors, config.json, preprocessor_config.json
    export = export_saved_model(model, os.path.join(args.output_dir, "export"))
    served = tf.saved_model.load(export).signatures["serving_image_bytes"]
    files = split["test"].cast_column("image", datasets.Image(decode=False))["image"][:6]
    encoded = [open(file["path"], "rb").read() for file in files]  # what a client sends: the files' bytes
    served_labels = [CLASSES[i] for i in np.argmax(served(images=tf.constant(encoded))["logits"], axis=-1)]
    in_process = model(model.image_processor([tf.io.decode_png(data).numpy() for data in encoded])).logits
    model_labels = [CLASSES[i] for i in np.argmax(in_process, axis=-1)]
    print(f"served from PNG bytes at {export}: {served_labels}")
    results = {"loss": history["loss"], "accuracy_before": accuracy_before, "accuracy_after": accuracy_after,
               "saved": saved, "export": export, "served": served_labels, "model": model_labels,
               "truth": [CLASSES[label] for label in split["test"]["label"][:6]]}
    with open(os.path.join(args.output_dir, "results.json"), "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1)
    return results


if __name__ == "__main__":
    main()
