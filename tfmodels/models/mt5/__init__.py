"""mT5."""

from tfmodels.models.t5 import t5_family

ARCHITECTURE = t5_family("mt5", "MT5", __name__)
__getattr__ = ARCHITECTURE.module_getattr
