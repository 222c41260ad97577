"""Running notebooks in a real Jupyter kernel (nbclient), with this interpreter.

The kernel is declared in a temporary Jupyter data folder, so the tests neither depend on
nor change the kernels installed on the machine, and the kernel runs the cnndsl under test."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

KERNEL = "cnndsl-test"


@contextmanager
def kernel_spec(folder: Path) -> Iterator[str]:
    """A kernel spec for `sys.executable` in `folder`, visible while the block runs."""
    spec = folder / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "cnndsl tests", "language": "python"}))
    saved = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(folder), *([saved] if saved else [])])
    try:
        yield KERNEL
    finally:
        if saved is None:
            del os.environ["JUPYTER_PATH"]
        else:
            os.environ["JUPYTER_PATH"] = saved


def execute(notebook: Any, cwd: Path, jupyter_folder: Path, timeout: int = 600) -> Any:
    """Run every cell of `notebook` (an nbformat node) in a fresh kernel started in `cwd`;
    raises nbclient's CellExecutionError at the first cell that fails."""
    from nbclient import NotebookClient

    with kernel_spec(jupyter_folder) as name:
        client = NotebookClient(notebook, kernel_name=name, timeout=timeout, resources={"metadata": {"path": str(cwd)}})
        client.execute()
    return notebook


def cell_outputs(cell: Any, mime: str) -> list[str]:
    """The `mime` payloads of a code cell's outputs (streams count as text/plain)."""
    found = []
    for output in cell.outputs:
        if output.output_type == "stream" and mime == "text/plain":
            found.append(output.text)
        elif mime in output.get("data", {}):
            found.append(output.data[mime])
    return found
