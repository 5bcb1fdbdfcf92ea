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
from collections.abc import Iterable, Iterator
from pathlib import Path

from lim_tf.errors import LimError, OutputError, out_of_space

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
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target}: is a file, not a folder; choose a folder for the output (the file is kept)")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{parent}: not writable; choose a writable location")
    temporary = parent / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    try:
        yield temporary
        _replace_directory(temporary, target)
    except BaseException as error:
        full = full_file_system(parent, error)  # looked at before the removal frees the space again
        shutil.rmtree(temporary, ignore_errors=True)
        if full:
            raise OSError(errno.ENOSPC, full, str(target)) from error
        raise


@contextlib.contextmanager
def created_folder(folder: Path, option: str = "OUT") -> Iterator[Path]:
    """Create `folder` and its missing parents for the block; if the block fails, remove again what
    was created here, so a refused or failed write leaves no empty folders behind."""
    folder = Path(folder)
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # e.g. a parent is a regular file
        raise OutputError(f"{folder}: cannot create ({error.strerror}); choose a writable folder for {option}") \
            from error
    try:
        yield folder
    except BaseException:
        if created:
            shutil.rmtree(created[-1], ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_file(target: Path, suffix: str = "", tidy: bool = True) -> Iterator[Path]:
    """Yield a temporary path in the same folder that is renamed to `target` on success; `suffix` ends
    the temporary name for writers that insist on one (Keras: ".keras", numpy: ".npz"). tidy=False
    skips removing dead writers' leftovers: where thousands of files share a folder written from
    several machines (map tiles), listing it per write costs and a pid may be another machine's."""
    target = Path(target)
    if target.is_dir():
        raise OutputError(f"{target}: is a folder, not a file; choose a file name for the output (the folder is kept)")
    if tidy:
        clean_leftovers(target.parent, target.name)
    temporary = target.with_name(f".{target.name}.partial-{os.getpid()}{suffix}")
    try:
        yield temporary
        os.replace(temporary, target)
    except BaseException as error:
        full = full_file_system(target.parent, error)
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        if full:
            raise OSError(errno.ENOSPC, full, str(target)) from error
        raise


FULL_MARGIN = 1 << 20  # bytes: a write that fails with less than this free failed for space


def full_file_system(folder: Path, error: BaseException) -> str | None:
    """Why a write into `folder` failed where the error does not say but its file system is full
    (SQLite reports "unable to open database file" or "no such table" when the disk or the inodes
    run out): 'No space left on device' or 'no free inodes'; None otherwise."""
    if not isinstance(error, Exception) or isinstance(error, LimError) or out_of_space(error) is not None:
        return None
    try:
        status = os.statvfs(folder)
    except OSError:
        return None
    if status.f_files and status.f_favail == 0:
        return "No space left on device (no free inodes)"
    if status.f_bavail * status.f_frsize < FULL_MARGIN:
        return "No space left on device"
    return None


def check_apart(out: str | Path, inputs: Iterable[tuple[str, str | Path | None]], option: str = "OUT",
                inside_allowed: Iterable[str] = ()) -> None:
    """Refuse an output that is, contains or lies inside one of the inputs (named by the option that
    gave it): replacing it would delete the input, and outputs written into an input folder become
    inputs of the next run. GDAL paths and inputs that do not exist are not local files to protect;
    `inside_allowed` names inputs whose folder is the output's designed home (a run's eval-test/)."""
    target = Path(out).resolve()
    allowed = set(inside_allowed)
    for label, given in inputs:
        if given is None or str(given).startswith("/vsi") or "://" in str(given) or not Path(given).exists():
            continue
        source = Path(given).resolve()
        if target == source:
            relation = "is"
        elif source.is_relative_to(target):
            relation = "contains"
        elif target.is_relative_to(source) and label not in allowed:
            relation = "lies inside"
        else:
            continue
        raise OutputError(f"{out}: {option} {relation} the input {label} {given}; choose an {option} apart from the "
                          "inputs (nothing was written)")
