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
load torch. In IPython or Jupyter, `%load_ext cnndsl` adds the `%%cnndsl` cell magic.
"""

from __future__ import annotations

import os
from typing import Any

# OpenMP's threads (PyTorch's CPU kernels run on them) wait for their next piece of work by
# spinning, for about as long as a small convolution takes. When the machine has more busy
# threads than cores, a spinning thread holds the core that the thread it waits for needs,
# and every parallel region waits a scheduler slice: a LeNet-5 training step on two shared
# cores took 0.5-0.8 s spinning and 8-18 ms sleeping (README, "Speed, measured"). OpenMP reads
# this once, when PyTorch is loaded, so it is set here, before anything of cnndsl imports
# torch; a value the user has set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from importlib import import_module  # noqa: E402

from . import train as _training  # noqa: E402,F401  (the subpackage; see _PUBLIC)
from .version import __version__  # noqa: E402

# The public names, each loaded from its module on first use (PEP 562), so that `import cnndsl`,
# which every command's start-up pays for, loads only what is used: `cnndsl summary` never
# loads the run-directory code behind `Run`. `train` is the function: the subpackage of that
# name was imported above, once, and its binding is removed here, so importing the
# subpackage's modules later leaves `cnndsl.train` alone.
_PUBLIC = {"CompileError": "compiler", "Report": "compiler", "check": "compiler", "Error": "errors",
           "Diagram": "api", "Network": "api", "SummaryInfo": "api", "compile": "api", "diagram": "api",
           "load": "api", "load_weights": "api", "summary": "api", "train": "api", "Run": "train.commands.run",
           # the trainer's refusals, under names that `cnndsl.train` (the function) cannot offer
           "TrainError": "train.errors", "UsageError": "train.errors", "Interrupted": "train.errors"}
del globals()["train"]  # bound by the import system when the subpackage loaded

__all__ = ["CompileError", "Diagram", "Error", "Interrupted", "Network", "Report", "Run", "SummaryInfo", "TrainError",
           "UsageError", "__version__", "check", "compile", "diagram", "load", "load_ipython_extension", "load_weights",
           "summary", "train"]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'cnndsl' has no attribute {name!r}")
    value = getattr(import_module(f".{_PUBLIC[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext cnndsl`: register the `%%cnndsl` cell magic."""
    from .magic import register

    register(ipython)
