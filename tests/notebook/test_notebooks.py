"""The notebooks run in a real Jupyter kernel, every cell as shown: the tutorials in
docs/notebooks/ (each trains on digits for a few seconds), and the notebook of issue 16's
"done when" (a rejected cell, the fixed cell, a summary, and training on digits to 95%)."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("sklearn")

from .kernel import cell_outputs, execute  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "docs" / "notebooks").glob("*.ipynb"))
REPOSITORY = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]


def code_cells(notebook: Any) -> list[Any]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def streams(notebook: Any) -> str:
    return "".join(output.text for cell in code_cells(notebook) for output in cell.outputs
                   if output.output_type == "stream")


def progress_bars(notebook: Any) -> list[str]:
    """The epoch bars, as their outputs were left: each is one display, redrawn in place."""
    return [text for cell in code_cells(notebook) for output in cell.outputs if output.output_type == "display_data"
            for text in [output.data.get("text/plain", "")] if re.match(r"epoch +\d+/\d+", text)]


def finished(bar: str) -> bool:
    """The bar shows its last update: all the epoch's images done."""
    return re.search(r" (\d+)/\1 ", bar) is not None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_a_tutorial_notebook_runs_as_shown(path: Path, tmp_path: Path) -> None:
    shutil.copy(path, tmp_path / path.name)
    notebook = execute(nbformat.read(tmp_path / path.name, as_version=4), tmp_path, tmp_path / "jupyter")
    cells = code_cells(notebook)
    assert not [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert "\r" not in streams(notebook)  # the bars are redrawn in place, not with carriage returns
    bars = progress_bars(notebook)
    assert bars and all(finished(bar) for bar in bars), bars
    runs = [html for cell in cells for html in cell_outputs(cell, "text/html") if 'class="cnndsl-run"' in html]
    assert runs and all('<img src="data:image/png;base64,' in html for html in runs)
    assert any(cell_outputs(cell, "image/svg+xml") for cell in cells)  # each %%cnndsl cell draws its network


def test_the_tutorials_open_in_colab_and_install_there() -> None:
    assert NOTEBOOKS, "no notebooks in docs/notebooks"
    owner_name = REPOSITORY.removeprefix("https://github.com/")
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        first = notebook.cells[0]
        badge = f"https://colab.research.google.com/github/{owner_name}/blob/main/docs/notebooks/{path.name}"
        assert first.cell_type == "markdown" and badge in first.source, path.name
        install = code_cells(notebook)[0].source
        assert '"google.colab" in sys.modules' in install and f"git+{REPOSITORY}.git" in install, path.name
        # digits by default, MNIST one uncommented line away
        assert any(cell.source.startswith('DATA = "digits"') and '\n# DATA = "mnist"' in cell.source
                   for cell in code_cells(notebook)), path.name
        assert all(not cell.outputs for cell in code_cells(notebook)), f"{path.name} is saved with outputs"


MISSING_FLATTEN = """\
%%cnndsl
network Digits(classes = 10) {
    input 1x16x16
    conv(16, 3, padding = 1, bias = false) batchnorm relu maxpool(2)   -> 16x8x8
    conv(32, 3, padding = 1, bias = false) batchnorm relu maxpool(2)   -> 32x4x4
    linear(classes)
}"""
FIXED = MISSING_FLATTEN.replace("    linear(classes)", "    flatten  -> 512\n    linear(classes)")


def test_the_issue_notebook_checks_fixes_summarises_and_trains(tmp_path: Path) -> None:
    cells = ["%load_ext cnndsl", MISSING_FLATTEN, FIXED, "import cnndsl\ncnndsl.summary(Digits)",
             'run = cnndsl.train(Digits, data="digits", epochs=3)\nrun', "print(f'accuracy {run.accuracy:.4f}')"]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    done = code_cells(execute(notebook, tmp_path, tmp_path / "jupyter"))
    rejected = cell_outputs(done[1], "text/plain")[0]
    # `linear` is line 6 of the cell, counting the %%cnndsl line
    assert "error[E0104]" in rejected and "--> In[2]:6:5" in rejected and "6 |     linear(classes)" in rejected
    assert "In[2]:6:5" in cell_outputs(done[1], "text/html")[0]
    assert len(cell_outputs(done[2], "text/html")) == 1  # no warnings: the summary alone
    shapes = cell_outputs(done[2], "text/html")[0]
    assert all(f">{shape}<" in shapes for shape in ("16x8x8", "32x4x4", "512")) and cell_outputs(done[2], "image/svg+xml")
    assert "<table>" in cell_outputs(done[3], "text/html")[0]
    assert 'class="cnndsl-run"' in cell_outputs(done[4], "text/html")[-1]
    bars = progress_bars(notebook)
    assert [bar.split()[1] for bar in bars] == ["1/3", "2/3", "3/3"] and all(finished(bar) for bar in bars), bars
    assert "\r" not in streams(notebook)
    accuracy = float(cell_outputs(done[5], "text/plain")[0].split()[1])
    assert accuracy >= 0.95
