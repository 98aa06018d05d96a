"""ViT: the vision transformer (image classification on patches)."""

from tfmodels.models.registry import Architecture

ARCHITECTURE = Architecture(
    model_type="vit",
    config="ViTConfig",
    package=__name__,
    classes={
        "TFViTModel": ("TFAutoModel",),
        "TFViTForImageClassification": ("TFAutoModelForImageClassification",),
    },
)
__getattr__ = ARCHITECTURE.module_getattr
