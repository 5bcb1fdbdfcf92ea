"""The errors users see: one line that names the file or option and says what to change."""


class LimError(Exception):
    """Base class; the CLI prints these as one line and exits non-zero."""


class InputError(LimError):
    """An input file or folder is missing, unreadable or inconsistent."""


class ConfigError(LimError):
    """An option or configuration value is invalid."""


class FoldRangeError(ConfigError):
    """Folds asked for that the records do not have (the caller knows whether a config file asked)."""


class OutputError(LimError):
    """An output location exists or cannot be written."""


class TrainingError(LimError):
    """Training cannot go on (for example the loss became NaN)."""


class WorkerError(LimError):
    """A worker process died without an answer (killed for memory, or crashed)."""


def size_text(size: float) -> str:
    """A byte count for a message, in the unit that keeps it readable (a few KiB are not '0.0 GiB')."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{int(size)} bytes"


NO_SPACE = ("No space left on device", "File too large", "Disk quota exceeded")


def out_of_space(error: BaseException) -> str | None:
    """Why a write failed when the disk filled up or a file-size limit was reached (in any of the
    forms Python, GDAL, HDF5 and TensorFlow report it), else None."""
    import errno

    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            return seen.strerror or str(seen)
        for text in NO_SPACE:
            if text in str(seen):
                return text
        seen = seen.__cause__ or seen.__context__
    return None
