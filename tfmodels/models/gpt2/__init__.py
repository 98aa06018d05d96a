"""GPT-2."""

from tfmodels.models.registry import Architecture

ARCHITECTURE = Architecture(
    model_type="gpt2",
    config="GPT2Config",
    package=__name__,
    classes={
        "TFGPT2Model": ("TFAutoModel",),
        "TFGPT2LMHeadModel": ("TFAutoModelForPreTraining", "TFAutoModelForCausalLM"),
        "TFGPT2DoubleHeadsModel": (),
        "TFGPT2ForSequenceClassification": ("TFAutoModelForSequenceClassification",),
    },
)
__getattr__ = ARCHITECTURE.module_getattr
