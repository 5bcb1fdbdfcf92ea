"""Speeds measured on this machine, remembered: `auto` choices (training precision and XLA, the map
runtime) are made by timing the candidates here, once per machine and network, instead of by rules
written for the CPUs seen so far.

A record is a small JSON file per key in the cache folder (measured/), written whole; a damaged one
is measured again. The key holds the machine's signature: its CPU model and the instruction sets
that decide these speeds (AVX2, AVX-512, bfloat16, AMX, VNNI) and its core count, so a figure from
one CPU generation is never used on another, and a digest of the code that computes the networks,
so a figure measured before a layer changed (a fused kernel can change which candidate wins) is
measured again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lim_tf.atomic import atomic_file
from lim_tf.runtime.cache import default_folder, digest

FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_int8", "amx_tile")


def machine_signature(cpuinfo: str | None = None) -> str:
    """'MODEL NAME (family F model M; flags; N cores)': what a measured speed holds for."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    flags = [flag for flag in FLAGS if flag in fields.get("flags", "").split()]
    name = fields.get("model name") or platform.processor() or platform.machine()
    return (f"{name} (family {fields.get('cpu family', '?')} model {fields.get('model', '?')}; "
            f"{' '.join(flags) or 'no listed flags'}; {os.cpu_count()} cores)")


def network_code(models: Path | None = None) -> str:
    """A digest of the source of lim_tf/models (or `models`), read, not imported: no TensorFlow for it."""
    hasher = hashlib.sha256()
    for source in sorted((models or Path(__file__).parents[1] / "models").glob("*.py")):
        hasher.update(source.name.encode() + source.read_bytes())
    return hasher.hexdigest()[:16]


@dataclass(frozen=True)
class Measurements:
    """Records of measured speeds in `folder` (None: nothing is remembered, every choice measures)."""

    folder: Path | None

    @classmethod
    def default(cls, enabled: bool = True) -> "Measurements":
        return cls(default_folder() / "measured" if enabled else None)

    def load(self, *parts: str) -> dict[str, Any]:
        """The record for this machine and `parts` (a network, a setting), or {}."""
        if self.folder is None:
            return {}
        with contextlib.suppress(OSError, ValueError):
            record = json.loads((self.folder / f"{self._key(parts)}.json").read_text())
            if isinstance(record, dict):
                return record
        return {}

    def save(self, record: dict[str, Any], *parts: str) -> None:
        """Remember `record`; a folder that cannot be written costs a measurement next time, not the run."""
        if self.folder is None:
            return
        with contextlib.suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_file(self.folder / f"{self._key(parts)}.json") as temporary:
                temporary.write_text(json.dumps({**record, "machine": machine_signature()}, indent=2) + "\n")

    @staticmethod
    def _key(parts: tuple[str, ...]) -> str:
        return digest(machine_signature(), network_code(), *parts)
