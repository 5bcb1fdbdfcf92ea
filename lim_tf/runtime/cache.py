"""Files made once and kept between runs: networks converted for ONNX Runtime (float32, and int8 for
the scene they were calibrated on), keyed by what they are made from.

An entry is one file, `KEY-DIGEST.onnx`, whose DIGEST is the SHA-256 of its own bytes: it appears
whole (written beside, then renamed) and is used only when its bytes still match its name, so a
damaged or half-copied entry is made again, never trusted. Processes (and Dask workers) sharing the
folder may write the same key at once: each rename is whole, any one of them serves. The folder
keeps to a size bound by removing the entries used least recently.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lim_tf.atomic import atomic_file

log = logging.getLogger(__name__)
MAX_BYTES = 2 << 30  # a few hundred converted networks of the shipped size


def default_folder() -> Path:
    """$LIM_TF_CACHE, else $XDG_CACHE_HOME/lim-tf, else ~/.cache/lim-tf."""
    if os.environ.get("LIM_TF_CACHE"):
        return Path(os.environ["LIM_TF_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lim-tf"


def digest(*parts: bytes | str) -> str:
    """A key from the things an entry is made from."""
    hasher = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        hasher.update(len(data).to_bytes(8, "little"))  # so ("ab", "c") and ("a", "bc") differ
        hasher.update(data)
    return hasher.hexdigest()


@dataclass(frozen=True)
class FileCache:
    """A folder of made files (None: nothing is kept, every file is made anew)."""

    folder: Path | None
    max_bytes: int = MAX_BYTES

    @classmethod
    def default(cls, enabled: bool = True) -> "FileCache":
        return cls(default_folder() if enabled else None)

    def has(self, key: str, suffix: str = ".onnx") -> bool:
        """Whether an entry for `key` is kept (it is checked when read)."""
        return self.folder is not None and self.folder.is_dir() and any(self.folder.glob(f"{key}-*{suffix}"))

    def get(self, key: str, make: Callable[[], bytes], suffix: str = ".onnx") -> tuple[bytes, bool]:
        """The entry's bytes and whether they came from the cache; made (and kept) when absent or damaged."""
        if self.folder is None:
            return make(), False
        for path in sorted(self.folder.glob(f"{key}-*{suffix}")) if self.folder.is_dir() else []:
            data = self._read(path)
            if data is not None and hashlib.sha256(data).hexdigest() == path.name[len(key) + 1:-len(suffix)]:
                with contextlib.suppress(OSError):
                    os.utime(path)  # used: kept longest by the size bound
                return data, True
            log.warning("%s: damaged cache entry, made again", path)
            with contextlib.suppress(OSError):
                path.unlink()
        data = make()
        self._put(key, data, suffix)
        return data, False

    @staticmethod
    def _read(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except OSError:
            return None

    def _put(self, key: str, data: bytes, suffix: str) -> None:
        """Keep `data` if the folder can be written; a cache that cannot be written costs time, not the run."""
        assert self.folder is not None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_file(self.folder / f"{key}-{hashlib.sha256(data).hexdigest()}{suffix}") as temporary:
                temporary.write_bytes(data)
            self._bound()
        except OSError as error:
            log.warning("%s: cannot keep a converted network here (%s); it is made again next time", self.folder,
                        error.strerror or error)

    def _bound(self) -> None:
        """Remove the least recently used entries until the folder holds at most max_bytes."""
        entries = []
        for path in self.folder.iterdir() if self.folder else []:
            with contextlib.suppress(OSError):
                if path.is_file() and not path.name.startswith("."):
                    status = path.stat()
                    entries.append((status.st_mtime, status.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                total -= size
