"""The package's layering (ARCHITECTURE.md): no import runs upward, none runs in a circle, and no
stage imports another stage. Imports inside functions count: they hide cycles, they do not break them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "lim_tf"

# Lowest first. A module belongs to the layer of the longest prefix that names it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("lim_tf", "lim_tf.errors", "lim_tf.figures"),  # ground
    ("lim_tf.config", "lim_tf.atomic", "lim_tf.serving", "lim_tf.geo", "lim_tf.models", "lim_tf.runtime",
     "lim_tf.testing"),  # foundations
    ("lim_tf.data", "lim_tf.metrics", "lim_tf.polygons", "lim_tf.trained", "lim_tf.zoo"),  # parts the stages share
    ("lim_tf.training", "lim_tf.evaluate", "lim_tf.export", "lim_tf.mapping"),  # stages
)
STAGES = LAYERS[-1]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that `path` imports, anywhere in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            candidates = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found.update(name for name in candidates if name in modules)
    return found


def owner(module: str, groups: tuple[str, ...]) -> str | None:
    """The longest prefix in `groups` that names `module`."""
    matches = [g for g in groups if module == g or module.startswith(g + ".")]
    return max(matches, key=len) if matches else None


def layer_of(module: str) -> int:
    ranked = [(len(owner(module, layer) or ""), index) for index, layer in enumerate(LAYERS)]
    length, index = max(ranked)
    if not length:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS and to ARCHITECTURE.md")
    return index


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = package_modules()
    return {name: imports_of(path, modules) - {name} for name, path in modules.items()}


def test_every_module_has_a_layer(graph):
    for module in graph:
        layer_of(module)


def test_no_import_runs_upward(graph):
    upward = [f"{m} (layer {layer_of(m)}) imports {d} (layer {layer_of(d)})"
              for m, deps in graph.items() for d in deps if layer_of(d) > layer_of(m)]
    assert not upward, "\n".join(upward)


def test_no_stage_imports_another(graph):
    crossing = [f"{m} imports {d}" for m, deps in graph.items() if owner(m, STAGES)
                for d in deps if owner(d, STAGES) and owner(d, STAGES) != owner(m, STAGES)]
    assert not crossing, "\n".join(crossing)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path of modules, or None (depth-first search with colours)."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_no_import_cycle(graph):
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_imports_are_read_inside_functions(tmp_path):
    module = tmp_path / "x.py"
    module.write_text("import os\n\n\ndef f():\n    from lim_tf.y import z\n    import lim_tf.w\n")
    known = {name: module for name in ("lim_tf.y", "lim_tf.y.z", "lim_tf.w")}
    assert imports_of(module, known) == {"lim_tf.y", "lim_tf.y.z", "lim_tf.w"}


TESTS = ROOT.parent / "tests"
# Modules whose tests reach them another way than by import, and how.
TESTED_OTHERWISE = {
    "lim_tf.mapping.qgis_snapshot": ("test_styles.py", "runs inside QGIS's own Python, as a script"),
}


def has_logic(path: Path) -> bool:
    return any(isinstance(node, (ast.FunctionDef, ast.ClassDef)) for node in ast.walk(ast.parse(path.read_text())))


def named_tests(module: str, modules: dict[str, Path]) -> set[str]:
    """The test module names that stand for `module`: test_PARENT_NAME.py always, test_NAME.py only
    where no other module of the package is called NAME (data/merge.py is not mapping/merge.py)."""
    parts = module.split(".")
    names = {f"test_{'_'.join(parts[-2:])}"} if len(parts) > 2 else set()
    if sum(m.rsplit(".", 1)[-1] == parts[-1] for m in modules) == 1:
        names.add(f"test_{parts[-1]}")
    return names


def test_every_module_with_logic_has_a_test_module():
    """A test module named after its path (tests/test_NAME.py, test_PARENT_NAME.py where the name is
    not unique) or one that imports it directly."""
    modules = package_modules()
    imported: set[str] = set()
    for test in TESTS.glob("*.py"):
        imported |= imports_of(test, modules)
    # A test of a package's table tests the modules the table is made of (writers/__init__ -> gpkg).
    imported |= {m for package in list(imported) if modules[package].name == "__init__.py"
                 for m in imports_of(modules[package], modules) if m.startswith(package + ".")}
    present = {test.stem for test in TESTS.glob("test_*.py")}
    missing = [m for m, path in modules.items() if has_logic(path) and m not in imported
               and not named_tests(m, modules) & present and m not in TESTED_OTHERWISE]
    assert not missing, "no test module tests " + ", ".join(missing)


def test_modules_are_matched_by_path():
    modules = {"lim_tf.data.merge": Path(), "lim_tf.mapping.merge": Path(), "lim_tf.metrics": Path()}
    assert named_tests("lim_tf.data.merge", modules) == {"test_data_merge"}
    assert named_tests("lim_tf.metrics", modules) == {"test_metrics"}


def test_no_test_module_imports_another():
    """Shared builders live in lim_tf/testing.py, shared checks in tests/helpers.py and conftest.py."""
    offenders = []
    for test in sorted(TESTS.glob("test_*.py")):
        for node in ast.walk(ast.parse(test.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            offenders += [f"{test.name} imports {name}" for name in names if name.startswith("test_")]
    assert not offenders, "; ".join(offenders)
    for module, (test, _) in TESTED_OTHERWISE.items():
        assert module.rsplit(".", 1)[-1] in (TESTS / test).read_text(), f"{test} no longer reaches {module}"
