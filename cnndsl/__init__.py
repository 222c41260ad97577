"""cnndsl: a declarative architecture language and compiler for convolutional networks.

    import cnndsl
    model = cnndsl.compile("lenet5.net", classes=10)   # a torch.nn.Module
    report = cnndsl.check("lenet5.net")                # diagnostics, without torch
    info = cnndsl.summary("lenet5.net")                # what `summary --format json` prints
    net = cnndsl.load("lenet5.net")                    # a checked network, for all of the above
    cnndsl.diagram(net)                                # the diagram (SVG in a notebook)
    cnndsl.load_weights(model, "resnet18.pth")         # another model's tensors, in order

Importing cnndsl imports neither torch nor IPython; only `compile`, `load_weights` (and
training) import torch. In IPython or Jupyter, `%load_ext cnndsl` adds the `%%cnndsl` cell magic.
"""

from __future__ import annotations

from typing import Any

from .api import Diagram, Network, SummaryInfo, compile, diagram, load, load_weights, summary
from .compiler import CompileError, Report, check
from .errors import Error

__all__ = ["CompileError", "Diagram", "Error", "Network", "Report", "SummaryInfo", "check", "compile", "diagram",
           "load", "load_ipython_extension", "load_weights", "summary"]
__version__ = "0.1.0"


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext cnndsl`: register the `%%cnndsl` cell magic."""
    from .magic import register

    register(ipython)
