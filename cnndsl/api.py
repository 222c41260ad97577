"""The Python API's objects: a checked network, its summary and its diagram. No torch
until a model is built.

`cnndsl.load` and the `%%cnndsl` cell magic give a `Network`; `summary`, `diagram`,
`compile` and `train` take one as readily as a file name or source text, and so does
everything else that takes a network (a compiled model stands for its network too, for
`summary` and `diagram`). Each object displays itself in a notebook: a network as its
summary table and diagram, a summary as its table, a diagram as SVG.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Union

from . import ir
from .compiler import CompileError, check_file, check_source
from .diagnostics import Diagnostic
from .display import human, shape_text, summary_html, summary_plain, svg_inline
from .ir import Value

if TYPE_CHECKING:
    import torch

    from .backends.torch_module import CompiledNetwork
    from .graph.scene import Scene
    from .train.commands.run import Run


class SummaryInfo(dict):
    """What `cnndsl summary --format json` prints, as a dictionary that shows itself as
    the summary table (in a notebook, an HTML table)."""

    def _repr_html_(self) -> str:
        return summary_html(self)

    def __str__(self) -> str:
        """The table of `cnndsl summary`, as `print` shows it (repr stays the dictionary's)."""
        return summary_plain(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


@dataclass(frozen=True, repr=False)
class Diagram:
    """A network's diagram, as `cnndsl graph` draws it: `svg` is the document, `save`
    writes an .svg or .png file, and a notebook shows it inline."""

    scene: "Scene"

    @property
    def svg(self) -> str:
        from .graph.svg import svg

        return svg(self.scene)

    def png(self) -> bytes:
        """The diagram as PNG bytes (needs Pillow)."""
        from .graph.png import png

        return png(self.scene)

    def save(self, path: str | Path) -> Path:
        """Write the diagram; the name's extension (.svg or .png) picks the format."""
        from .atomic import atomic_write_bytes

        target = Path(path)
        suffix = target.suffix.lower()
        if suffix not in (".svg", ".png"):
            raise ValueError(f"cannot tell the format of {target} from its name; end it in .svg or .png")
        atomic_write_bytes(target, self.svg.encode("utf-8") if suffix == ".svg" else self.png())
        return target

    def _repr_svg_(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        return f"<diagram: {self.scene.title}, {self.scene.width:.0f}x{self.scene.height:.0f}>"


@dataclass(frozen=True, repr=False)
class Network:
    """A checked network, ready to summarise, draw, compile and train. `warnings` are the
    checker's warnings about it (a rejected network never becomes a `Network`)."""

    network: ir.Network
    warnings: tuple[Diagnostic, ...] = ()

    @property
    def name(self) -> str:
        return self.network.name

    @property
    def input_shape(self) -> ir.Shape:
        return self.network.input_shape

    @property
    def output_shape(self) -> ir.Shape:
        return self.network.output_shape

    @property
    def params(self) -> Mapping[str, Value]:
        """The network parameters' values, `--set` ones included."""
        return self.network.params

    @property
    def source(self) -> str:
        """The text of the file (or cell) the network was written in."""
        return self.network.files[0].text if self.network.files else ""

    def summary(self) -> SummaryInfo:
        return summary(self)

    def diagram(self, collapse: bool = False, columns: int | None = None) -> Diagram:
        return diagram(self, collapse=collapse, columns=columns)

    def compile(self) -> "CompiledNetwork":
        return compile(self)

    def train(self, data: str | None = None, **options: Any) -> "Run":
        """`cnndsl.train(self, data, **options)`."""
        return train(self, data, **options)

    def _repr_html_(self) -> str:
        return summary_html(self.summary()) + svg_inline(self.diagram().svg)

    def __repr__(self) -> str:
        info = self.summary()
        return (f"<network {self.name}: {shape_text(self.input_shape)} -> {shape_text(self.output_shape)}, "
                f"{info['total_params']:,} params, {human(info['macs'])} MACs>")


Target = Union[str, Path, Network, "CompiledNetwork"]


def checked(target: Target, network: str | None = None, params: Mapping[str, Value] | None = None,
            strict: bool = False) -> ir.Network:
    """The checked network `target` names: a file, source text, a `Network` or a compiled
    model. With `params`, a network already checked is checked again with those values
    (the others stay as they were). Raises `CompileError` when rejected."""
    net = getattr(target, "network", None)
    if isinstance(net, ir.Network):
        if network is not None and network != net.name:
            raise ValueError(f"this is the network {net.name}, not {network}")
        if not params and not strict:
            return net
        if not net.files:
            raise ValueError(f"the network {net.name} has no source to check again with new values")
        return check_file(net.files[0], net.name, {**net.params, **(params or {})}, strict).network()
    if not isinstance(target, (str, Path)):
        raise TypeError(f"expected a file name, source text or a network, not {type(target).__name__}")
    return check_source(target, network, params, strict).network()


def load(path_or_source: str | Path, network: str | None = None, strict: bool = False, **params: Value) -> Network:
    """Check a file or source text and return its network; raises `CompileError` (with the
    diagnostics) when rejected."""
    report = check_source(path_or_source, network, params, strict)
    net = report.network()
    return Network(net, tuple(report.diagnostics))


def summary(target: Target, network: str | None = None, **params: Value) -> SummaryInfo:
    """The per-layer table and totals, as `cnndsl summary --format json` prints them."""
    from .counting import summarize

    return SummaryInfo(summarize(checked(target, network, params)).as_json())


def diagram(target: Target, network: str | None = None, collapse: bool = False, columns: int | None = None,
            **params: Value) -> Diagram:
    """The network's diagram, as `cnndsl graph` draws it."""
    from .graph.layout import layout

    return Diagram(layout(checked(target, network, params), collapse=collapse, columns=columns))


def compile(target: Target, network: str | None = None, **params: Value) -> "CompiledNetwork":
    """Check a file, source text or network and build it as a `torch.nn.Module`.

    Raises `CompileError` (with the diagnostics) when the file is rejected."""
    from .backends.torch_module import build

    return build(checked(target, network, params))


def load_weights(model: "torch.nn.Module", source: "Mapping[str, torch.Tensor] | str | Path",
                 fresh: Iterable[str] = ()) -> "torch.nn.Module":
    """Copy another model's tensors into `model` (compiled from a `.net` file) and return it.

    `source` is a state dict, a file saved with `torch.save` (read with `weights_only=True`),
    a `.safetensors` file, or a run directory of `cnndsl train`. Tensors are paired in
    registration order (by name when the names are the model's), each shape checked; a
    `CompileError` (a `WeightsError`) names the first that does not fit, its `.net` line and
    the file's key. The layers named in `fresh` (`["fc"]`: a new classifier) keep their own
    initialisation."""
    from .backends.weights import load_weights as load_tensors

    return load_tensors(model, source, fresh)


def train(target: Target, data: str | None = None, *, recipe: str | None = None, epochs: int | None = None,
          batch_size: int | None = None, lr: float | None = None, optimizer: str | None = None, momentum: float | None = None,
          weight_decay: float | None = None, schedule: str | None = None, label_smoothing: float | None = None,
          augment: str | None = None, seed: int | None = None, device: str = "auto", out: str | Path | None = None,
          resume: bool = False, limit: int | None = None, data_root: str | Path = "data", compile: bool = False,
          nproc: int | None = None, dist_timeout: float | None = None, network: str | None = None,
          set: Mapping[str, Value] | None = None, strict: bool = False, init: str | Path | None = None,
          fresh: Iterable[str] = (), follow_links: bool = False, quiet: bool = False) -> "Run":
    """Train a network (a file, source text or `Network`) and return its run: the Python face
    of `cnndsl train`. The keywords are its flags (`batch_size` for `--batch-size`, `set`
    for the `--set` values, `compile` for `--compile`, `fresh` for the `--fresh` layers), with
    the same meanings, defaults and checks, and the run directory is the one the command writes. Progress is printed
    as the command prints it; in a notebook the bar is redrawn in place. `quiet` prints
    nothing.

    Raises `CompileError` for a rejected network, and the trainer's `TrainError` (with
    `message` and `help`) for what the command reports with exit code 1 or 2."""
    from rich.console import Console

    from .train.commands.launch import train_network
    from .train.commands.run import Run
    from .train.errors import Interrupted

    for name, value in (("resume", resume), ("compile", compile), ("follow_links", follow_links), ("quiet", quiet)):
        if not isinstance(value, bool):  # "no" would be true
            raise TypeError(f"`{name}` must be True or False, not {value!r}")
    for name, place in (("data_root", data_root), ("out", out), ("init", init)):
        if (place is not None or name == "data_root") and not isinstance(place, (str, Path)):
            raise TypeError(f"`{name}` must be a path (a str or Path), not {place!r}")
    fresh = (fresh,) if isinstance(fresh, str) else fresh  # one layer's name, not its letters
    net = checked(target, network, set, strict)
    flags = {"data": data, "recipe": recipe, "epochs": epochs, "batch_size": batch_size, "optimizer": optimizer, "lr": lr,
             "momentum": momentum, "weight_decay": weight_decay, "schedule": schedule,
             "label_smoothing": label_smoothing, "augment": augment, "seed": seed}
    console = Console(highlight=False, soft_wrap=True, quiet=quiet)
    try:
        path = train_network(net, flags, console, data_root=Path(data_root), limit=limit, device=device,
                             compile=compile, out=Path(out) if out is not None else None, resume=resume,
                             nproc=nproc, timeout=dist_timeout, init=Path(init) if init is not None else None,
                             fresh=tuple(fresh), follow_links=follow_links)
    except Interrupted as exc:
        if exc.run is not None:  # said in Python's words, not the command line's
            exc.help = f"continue with the same call plus resume=True, out={str(exc.run)!r}"
        raise
    return Run(path)
