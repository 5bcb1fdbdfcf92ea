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


def test_an_output_apart_from_its_inputs(tmp_path):
    from lim_tf.atomic import check_apart

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.tif").write_text("a")
    (tmp_path / "link").symlink_to(tmp_path / "in")
    cases = {tmp_path / "in" / "a.tif": "is", tmp_path / "link" / "a.tif": "is", tmp_path: "contains",
             tmp_path / "in" / "a.tif" / "x": "lies inside", tmp_path / "link" / "maps": "lies inside"}
    for out, relation in cases.items():
        with pytest.raises(OutputError, match=f"OUT {relation} the input SCENE"):
            check_apart(out, [("SCENE", tmp_path / "in" / "a.tif"), ("SCENE", tmp_path / "in")])
    check_apart(tmp_path / "out", [("SCENE", tmp_path / "in"), ("MODEL", "bijie"), ("SCENE", "/vsicurl/x"),
                                   ("--dem", None)])
    check_apart(tmp_path / "in" / "eval-test", [("RUN", tmp_path / "in")], inside_allowed=("RUN",))


def test_a_write_that_fails_on_a_full_file_system_says_so(tmp_path, monkeypatch):
    import errno
    import os

    class Full:
        f_files, f_favail, f_bavail, f_frsize = 100, 0, 10**6, 4096

    monkeypatch.setattr(os, "statvfs", lambda _: Full)
    with pytest.raises(OSError) as raised, atomic_directory(tmp_path / "out") as folder:
        (folder / "x").write_text("x")
        raise RuntimeError("unable to open database file")  # how SQLite reports it
    assert raised.value.errno == errno.ENOSPC and "no free inodes" in str(raised.value)
    Full.f_favail, Full.f_bavail = 10, 10
    with pytest.raises(OSError, match="No space left on device"), atomic_file(tmp_path / "f") as temporary:
        temporary.write_text("x")
        raise RuntimeError("no such table: inventory")
    Full.f_bavail = 10**6
    with pytest.raises(RuntimeError, match="a bug"), atomic_directory(tmp_path / "out"):
        raise RuntimeError("a bug")  # room to spare: the error is what it says
    assert not list(tmp_path.iterdir())


def test_sizes_in_messages_keep_their_digits():
    from lim_tf.errors import size_text

    assert [size_text(n) for n in (512, 1536, 5 * 2**20 + 2**19, 3 * 2**30)] == \
        ["512 bytes", "1.5 KiB", "5.5 MiB", "3.0 GiB"]
