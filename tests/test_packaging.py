"""The wheel holds every package of the source tree, the CLI as lim_tf_cli, and the model zoo's data
(an editable install hides a package list that drifts; a wheel, a container or a Dask worker does not)."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    source = tmp_path_factory.mktemp("source")  # a copy: building in place would leave build/ in the tree
    for name in ("setup.py", "setup.cfg", "pyproject.toml", "README.md", "lim_tf", "cli"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                           if (ROOT / name).is_dir() else {}))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                           str(out), str(source)], capture_output=True, text=True, cwd=source)
    assert done.returncode == 0, done.stderr
    return zipfile.ZipFile(next(out.glob("lim_tf-*.whl")))


def test_the_wheel_holds_every_package_and_module(wheel):
    names = set(wheel.namelist())
    sources = [p.relative_to(ROOT).as_posix() for p in (ROOT / "lim_tf").rglob("*.py") if "__pycache__" not in p.parts]
    assert any(s.startswith("lim_tf/mapping/") for s in sources) and any(s.startswith("lim_tf/geo/") for s in sources)
    assert sorted(set(sources) - names) == []
    cli = [f"lim_tf_cli/{p.name}" for p in (ROOT / "cli").glob("*.py")]
    assert sorted(set(cli) - names) == []
    assert not any(n.split("/")[0] in ("cli", "tests", "benchmarks", "reliability") for n in names)


def test_the_wheel_holds_the_model_zoo_data(wheel):
    names = set(wheel.namelist())
    shipped = [p.relative_to(ROOT).as_posix() for p in (ROOT / "lim_tf/zoo").iterdir()
               if p.suffix in (".json", ".h5", ".md")]
    assert sorted(set(shipped) - names) == []
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "lim-tf = lim_tf_cli.main:main" in wheel.read(entry).decode()
