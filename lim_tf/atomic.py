"""Outputs that appear whole or not at all: write to a temporary sibling, then rename.

A process killed at any moment leaves the target absent, as it was, or whole. Temporaries carry
the writer's process id; the next run removes those of processes that are gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

from lim_tf.errors import OutputError

RENAME_EXCHANGE = 2  # renameat2 flag: swap two paths in one step (Linux 3.15+)
AT_FDCWD = -100


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_leftovers(parent: Path, name: str) -> None:
    """Remove temporaries of `name` left in `parent` by processes that died; restore a target that
    a dead process had moved aside but not yet replaced (the fallback swap's one window)."""
    pattern = re.compile(rf"^\.{re.escape(name)}\.(partial|old)-(\d+)(\..*)?$")
    target = parent / name
    try:
        entries = list(parent.iterdir())
    except OSError:
        return
    for entry in entries:
        match = pattern.match(entry.name)
        if not match or _alive(int(match.group(2))):
            continue
        if match.group(1) == "old" and not target.exists():
            entry.rename(target)  # the new output never arrived: keep the old one
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically; False where the system cannot."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    if not hasattr(libc, "renameat2"):
        return False
    result = libc.renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def _replace_directory(temporary: Path, target: Path) -> None:
    """Put `temporary` in place of `target`: one atomic swap where possible; otherwise two renames
    whose gap clean_leftovers repairs."""
    if not target.exists():
        temporary.rename(target)
        return
    if _exchange(temporary, target):
        shutil.rmtree(temporary, ignore_errors=True)  # it holds the old output now
        return
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    target.rename(old)
    temporary.rename(target)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(target: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder that replaces `target` only if the block finishes.

    On any error the temporary folder is removed and an existing `target` is left untouched.
    """
    target = Path(target)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{parent}: cannot create ({error.strerror}); choose a writable location") from error
    clean_leftovers(parent, target.name)
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: already exists; choose another folder or pass --overwrite")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{parent}: not writable; choose a writable location")
    temporary = parent / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    try:
        yield temporary
        _replace_directory(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    """Yield a temporary path in the same folder that is renamed to `target` on success."""
    target = Path(target)
    clean_leftovers(target.parent, target.name)
    temporary = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        yield temporary
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
