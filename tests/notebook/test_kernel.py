"""The extension in a real Jupyter kernel: `%load_ext cnndsl`, `%%cnndsl` cells and the
static API, with torch never imported."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from .kernel import cell_outputs, execute  # noqa: E402

GOOD = """\
%%cnndsl --set classes=10
network Small(classes = 3) {
    input 1x8x8
    conv(4, 3) relu
    flatten
    linear(classes)
}"""


def test_the_magic_and_the_static_api_in_a_kernel_stay_torch_free(tmp_path: Path) -> None:
    (tmp_path / "blocks.net").write_text("block Pair(c) { conv(c, 3, padding = 1) relu }\n")
    cells = ["%load_ext cnndsl",
             GOOD.replace("    flatten\n", ""),
             GOOD,
             '%%cnndsl\nuse "blocks.net"\nnetwork Used { input 1x8x8 Pair(2) flatten linear(2) }',
             "import cnndsl, sys\ncnndsl.summary(Small)",
             "cnndsl.diagram(Used)",
             "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))"]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    done = execute(notebook, tmp_path, tmp_path / "jupyter").cells
    bad = cell_outputs(done[1], "text/plain")[0]
    assert "error[E0104]" in bad and "--> In[2]:5:5" in bad  # line 5 of the cell, counting %%cnndsl
    assert "In[2]:5:5" in cell_outputs(done[1], "text/html")[0]
    assert "Small  1x8x8 -> 10" in cell_outputs(done[2], "text/plain")[0]
    assert "<table>" in cell_outputs(done[2], "text/html")[0] and cell_outputs(done[2], "image/svg+xml")
    assert "Used  1x8x8 -> 2" in cell_outputs(done[3], "text/plain")[0]
    assert "4x6x6" in cell_outputs(done[4], "text/html")[0]
    assert "<svg" in cell_outputs(done[5], "image/svg+xml")[0]
    assert cell_outputs(done[6], "text/plain") == ["[]\n"]
