"""cnndsl: a declarative architecture language and compiler for convolutional networks.

    import cnndsl
    model = cnndsl.compile("lenet5.net", classes=10)   # a torch.nn.Module
    report = cnndsl.check("lenet5.net")                # diagnostics, without torch
    info = cnndsl.summary("lenet5.net")                # what `summary --format json` prints
    net = cnndsl.load("lenet5.net")                    # a checked network, for all of the above
    cnndsl.diagram(net)                                # the diagram (SVG in a notebook)
    cnndsl.load_weights(model, "resnet18.pth")         # another model's tensors, in order
    run = cnndsl.train(net, data="digits", epochs=3)   # `cnndsl train`, returning a Run
    run.evaluate(); run.predict(["seven.png"])         # `cnndsl eval` and `cnndsl predict`
    cnndsl.Run("runs/LeNet5-20260101-120000")          # a run directory, opened again

Importing cnndsl imports neither torch nor IPython; compiling, `load_weights` and training
import torch. In IPython or Jupyter, `%load_ext cnndsl` adds the `%%cnndsl` cell magic.
"""

from __future__ import annotations

from typing import Any

# The training subpackage is imported before the function `train` is bound below: the
# function then stays `cnndsl.train` (a subpackage imported later would take the name).
from .train.commands.run import Run
from .api import Diagram, Network, SummaryInfo, compile, diagram, load, load_weights, summary, train
from .compiler import CompileError, Report, check
from .errors import Error
from .version import __version__

__all__ = ["CompileError", "Diagram", "Error", "Network", "Report", "Run", "SummaryInfo", "__version__", "check",
           "compile", "diagram", "load", "load_ipython_extension", "load_weights", "summary", "train"]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext cnndsl`: register the `%%cnndsl` cell magic."""
    from .magic import register

    register(ipython)
