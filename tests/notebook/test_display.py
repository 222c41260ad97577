"""How the Python API's objects show themselves: HTML for a notebook, text for a prompt,
SVG for a diagram. The figures come from the same code as the command line's output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import cnndsl
from cnndsl.display import svg_inline

ROOT = Path(__file__).resolve().parents[2]
LENET = ROOT / "architectures" / "lenet5.net"
NO_FLATTEN = """\
network A(classes = 10) {
    input 1x8x8
    conv(4, 3)
    linear(classes)
}
"""


class Printer:
    """The part of IPython's pretty printer that `_repr_pretty_` uses."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def text(self, text: str) -> None:
        self.parts.append(text)


def pretty(obj: Any) -> str:
    printer = Printer()
    obj._repr_pretty_(printer, False)
    return "".join(printer.parts)


def test_a_rejected_report_shows_code_line_excerpt_and_help() -> None:
    report = cnndsl.check(NO_FLATTEN)
    text = pretty(report)
    assert "error[E0104]" in text and "--> <source>:4:5" in text
    assert "4 |     linear(classes)" in text and "^^^^^^^^^^^^^^^" in text
    assert "= help: insert `flatten` before line 4" in text
    assert text.rstrip().endswith("rejected <source>  (1 error)")
    html = report._repr_html_()
    assert html.startswith("<pre") and "error[E0104]" in html and "&lt;source&gt;:4:5" in html
    assert "insert `flatten` before line 4" in html and "color:" in html


def test_an_accepted_report_names_its_networks() -> None:
    text = pretty(cnndsl.check(LENET))
    assert text == f"ok {LENET}  LeNet5: 1x32x32 -> 10"


def test_summary_is_the_json_dictionary_and_shows_the_table() -> None:
    info = cnndsl.summary(LENET)
    cli = subprocess.run([sys.executable, "-m", "cnndsl", "summary", str(LENET), "-f", "json"],
                         capture_output=True, text=True, timeout=120)
    assert json.loads(cli.stdout) == info and json.loads(json.dumps(info)) == info
    text = pretty(info)
    plain = subprocess.run([sys.executable, "-m", "cnndsl", "summary", str(LENET)], capture_output=True, text=True,
                           timeout=120).stdout
    assert text.strip() == plain.strip()
    html = info._repr_html_()
    assert "<table>" in html and html.count("<tr>") == len(info["layers"]) + 1
    assert "<td style=\"text-align:right\">16x10x10</td>" in html and "61,706" in html


def test_a_diagram_is_svg_and_saves_as_svg_or_png(tmp_path: Path) -> None:
    diagram = cnndsl.diagram(LENET)
    assert diagram._repr_svg_().startswith("<?xml") and "</svg>" in diagram._repr_svg_()
    assert repr(diagram).startswith("<diagram: LeNet5: 1x32x32 -> 10")
    assert diagram.save(tmp_path / "a.svg").read_text() == diagram.svg
    assert diagram.save(tmp_path / "a.png").read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="end it in .svg or .png"):
        diagram.save(tmp_path / "a.gif")
    assert svg_inline(diagram.svg).startswith("<svg ")


def test_a_network_shows_summary_and_diagram_and_feeds_every_function() -> None:
    net = cnndsl.load(LENET)
    assert repr(net) == "<network LeNet5: 1x32x32 -> 10, 61,706 params, 416.52K MACs>"
    html = net._repr_html_()
    assert "<table>" in html and "<svg " in html and "<?xml" not in html
    assert cnndsl.summary(net) == cnndsl.summary(LENET)
    assert cnndsl.summary(net, classes=7)["output"] == [7]  # checked again with the new value
    assert net.params == {"classes": 10} and net.source == LENET.read_text()
    with pytest.raises(cnndsl.CompileError):
        cnndsl.summary(net, classes=0)
    with pytest.raises(ValueError, match="not Other"):
        cnndsl.summary(net, network="Other")
    with pytest.raises(TypeError, match="not int"):
        cnndsl.summary(3)  # type: ignore[arg-type]


def test_load_refuses_a_rejected_file_with_its_diagnostics() -> None:
    with pytest.raises(cnndsl.CompileError) as caught:
        cnndsl.load(NO_FLATTEN)
    assert [d.code for d in caught.value.diagnostics] == ["E0104"]


def test_a_compiled_model_shows_its_summary() -> None:
    model = cnndsl.compile(cnndsl.load(LENET))
    assert model._repr_html_() == cnndsl.summary(LENET)._repr_html_()
    assert cnndsl.summary(model) == cnndsl.summary(LENET)
    assert "LeNet5: 1x32x32 -> 10" in repr(model)  # the text form stays the module tree


def test_importing_cnndsl_and_the_static_api_need_neither_torch_nor_ipython() -> None:
    probe = ("import sys, cnndsl\n"
             f"net = cnndsl.load({str(LENET)!r})\n"
             "net._repr_html_(); cnndsl.check(net.source)._repr_html_(); cnndsl.summary(net)._repr_html_()\n"
             "assert 'torch' not in sys.modules and 'IPython' not in sys.modules, 'imported'\n"
             "print('clean')\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "clean" in result.stdout, result.stderr
