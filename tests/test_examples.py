"""The notebooks in examples/ run top to bottom and show what they promise.

They are committed without outputs.  Each is executed in a fresh Jupyter kernel (nbclient,
ipykernel: the test extra); a code cell whose metadata says ``expect`` must display that
kind of output (``mime``), holding the given text (``contains``): a picture where a
picture is promised.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))
#: Notebooks that need an optional package, and which.
NEEDS = {"04-pytorch.ipynb": "torch"}
_NO_KERNEL = ("nbclient and ipykernel: the Jupyter kernel's dependencies (psutil, debugpy) have no "
              "PyPy wheels" if platform.python_implementation() == "PyPy"
              else "pip install nbclient ipykernel (test extra)")


def test_there_are_notebooks_committed_without_outputs():
    assert [p.name for p in NOTEBOOKS] == ["01-expression.ipynb", "02-moons.ipynb", "03-delta.ipynb",
                                           "04-pytorch.ipynb"]
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(c["outputs"] == [] and c["execution_count"] is None for c in code), path.name
        assert any("expect" in c["metadata"] for c in code), f"{path.name} promises no picture"


def _shown(output: dict) -> dict:
    """mime type -> text of one displayed output (execute_result or display_data)."""
    data = output.get("data", {})
    return {mime: "".join(v) if isinstance(v, list) else str(v) for mime, v in data.items()}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_shows_what_it_promises(path, tmp_path):
    nbformat = pytest.importorskip("nbformat", reason=_NO_KERNEL)
    nbclient = pytest.importorskip("nbclient", reason=_NO_KERNEL)
    pytest.importorskip("ipykernel", reason=_NO_KERNEL)
    if path.name in NEEDS:
        pytest.importorskip(NEEDS[path.name], reason=f"{path.name} needs {NEEDS[path.name]}")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, naming the cell, at the first error
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{path.name} cell {index}: {errors}"
        expect = cell.metadata.get("expect")
        if not expect:
            continue
        shown = [_shown(o) for o in cell.outputs if o.output_type in ("execute_result", "display_data")]
        matching = [s[expect["mime"]] for s in shown if expect["mime"] in s]
        assert matching, f"{path.name} cell {index} showed {[list(s) for s in shown]}, not {expect['mime']}"
        if expect["mime"] == "image/svg+xml":
            assert "<svg" in matching[0] and "</svg>" in matching[0]
        for text in expect.get("contains", []):
            assert text in matching[0], f"{path.name} cell {index}: {text!r} not in its {expect['mime']}"
