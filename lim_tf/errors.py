"""The errors users see: one line that names the file or option and says what to change."""


class LimError(Exception):
    """Base class; the CLI prints these as one line and exits non-zero."""


class InputError(LimError):
    """An input file or folder is missing, unreadable or inconsistent."""


class ConfigError(LimError):
    """An option or configuration value is invalid."""


class OutputError(LimError):
    """An output location exists or cannot be written."""


class TrainingError(LimError):
    """Training cannot go on (for example the loss became NaN)."""


class WorkerError(LimError):
    """A worker process died without an answer (killed for memory, or crashed)."""
