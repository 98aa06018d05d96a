"""CLIP: a text tower and a vision tower trained contrastively, and each tower alone (three model types)."""

from tfmodels.models.registry import Architecture, package_getattr

ARCHITECTURES = (
    Architecture(model_type="clip", config="CLIPConfig", package=__name__, classes={"TFCLIPModel": ("TFAutoModel",)}),
    Architecture(model_type="clip_text_model", config="CLIPTextConfig", package=__name__,
                 classes={"TFCLIPTextModel": ("TFAutoModel",)}),
    Architecture(model_type="clip_vision_model", config="CLIPVisionConfig", package=__name__,
                 classes={"TFCLIPVisionModel": ("TFAutoModel",)}),
)
__getattr__ = package_getattr(*ARCHITECTURES)
