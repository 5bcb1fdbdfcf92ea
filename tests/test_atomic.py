"""atomic.py: an output appears whole or not at all, and leftovers of dead writers are repaired."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lim_tf import atomic
from lim_tf.atomic import atomic_directory, atomic_file, clean_leftovers
from lim_tf.errors import OutputError


def _dead_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_atomic_file_appears_only_when_the_block_ends(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with atomic_file(target) as temporary:
        temporary.write_text("new")
        assert not target.exists()
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_file_keeps_the_old_file_on_error(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_directory_refuses_an_existing_target_without_overwrite(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    with pytest.raises(OutputError, match="already exists; choose another folder or pass --overwrite"):
        with atomic_directory(tmp_path / "run"):
            pass


@pytest.mark.parametrize("can_exchange", [True, False])
def test_atomic_directory_replaces_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       can_exchange: bool) -> None:
    if not can_exchange:  # the two-rename fallback of systems without renameat2
        monkeypatch.setattr(atomic, "_exchange", lambda first, second: False)
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(ValueError), atomic_directory(target, overwrite=True) as staged:
        (staged / "new.txt").write_text("new")
        raise ValueError("stopped half-way")
    assert sorted(p.name for p in target.iterdir()) == ["old.txt"]
    with atomic_directory(target, overwrite=True) as staged:
        (staged / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_leftovers_of_a_dead_writer_go_and_a_moved_aside_target_comes_back(tmp_path: Path) -> None:
    dead = _dead_pid()
    (tmp_path / f".run.partial-{dead}").mkdir()  # a staged folder never finished
    (tmp_path / f".run.old-{dead}").mkdir()  # the fallback swap's window: the old output set aside
    (tmp_path / f".run.old-{dead}" / "kept.txt").write_text("old")
    (tmp_path / f".map.tif.partial-{dead}").write_text("half")
    clean_leftovers(tmp_path, "run")
    clean_leftovers(tmp_path, "map.tif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert (tmp_path / "run" / "kept.txt").read_text() == "old"


def test_a_living_writer_s_temporary_is_left_alone(tmp_path: Path) -> None:
    living = tmp_path / f".run.partial-{os.getpid()}"
    living.mkdir()
    clean_leftovers(tmp_path, "run")
    assert living.is_dir()
