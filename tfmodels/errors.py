"""Exception types raised by tfmodels. Each message names the file or value at fault and how to fix it."""


class ConfigError(ValueError):
    """A configuration is invalid: bad JSON, an unknown `model_type`, contradictory values."""


class CheckpointError(OSError):
    """A checkpoint cannot be loaded or saved: missing, truncated, corrupt or inconsistent files."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint asks for something the loader refuses to do, such as running pickled code."""
