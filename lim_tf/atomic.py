"""Outputs that appear whole or not at all: write to a temporary sibling, then rename."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from lim_tf.errors import OutputError


@contextlib.contextmanager
def atomic_directory(target: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder that replaces `target` only if the block finishes.

    On any error the temporary folder is removed and an existing `target` is left untouched.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: already exists; choose another folder or pass --overwrite")
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{parent}: cannot create ({error.strerror}); choose a writable location") from error
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{parent}: not writable; choose a writable location")
    temporary = parent / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    try:
        yield temporary
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    old = parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        target.rename(old)
    temporary.rename(target)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    """Yield a temporary path in the same folder that is renamed to `target` on success."""
    target = Path(target)
    temporary = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        yield temporary
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    os.replace(temporary, target)
