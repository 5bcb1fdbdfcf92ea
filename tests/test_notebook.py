"""The walk-through notebook runs clean from top to bottom."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"


def test_quickstart_notebook_executes(tmp_path, monkeypatch):
    monkeypatch.setenv("LIM_TF_NOTEBOOK_DIR", str(tmp_path / "work"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    monkeypatch.setenv("LIM_TF_NOTEBOOK_EPOCHS", "1")  # the plumbing, not the learning
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "\n".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []))
    assert "before augmentation" in text and "signatures:" in text
    assert (tmp_path / "work/map/inventory.gpkg").exists() and (tmp_path / "work/serving/landslides/1").is_dir()
