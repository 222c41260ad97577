"""What training, `eval` and `predict` print: a live bar per epoch, then tables.

The trainer knows nothing of Rich; it calls `EpochBar.update` a few times a second. In a
notebook the bar is drawn into one output and redrawn in place. What `eval` and `predict`
report is also what `Run.evaluate` and `Run.predict` return: the data of `--format json`,
displayed in a notebook as the tables and lines of the text output.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ..loop.metrics import Evaluation

if TYPE_CHECKING:
    import numpy as np


def _bar(console: Console, epoch: int, epochs: int) -> Progress:
    return Progress(
        TextColumn(f"epoch {epoch:>{len(str(epochs))}}/{epochs}"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}  acc {task.fields[accuracy]:6.2%}  "
                   "{task.fields[speed]:,.0f} img/s"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        auto_refresh=False,
    )


class EpochBar:
    """A Rich progress bar for one epoch, showing running loss, accuracy and images/s. It
    stays on screen when the epoch ends, followed by the epoch's test results.

    It is drawn only when the trainer reports (a few times a second, between steps), not by
    Rich's refresh thread, which would compete with the training loop for the interpreter."""

    def __init__(self, console: Console, epoch: int, epochs: int) -> None:
        self.progress = _bar(console, epoch, epochs)
        self.task = self.progress.add_task("train", total=None, loss=0.0, accuracy=0.0, speed=0.0)

    def __enter__(self) -> "EpochBar":
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, done: int, total: int, loss: float, accuracy: float, speed: float) -> None:
        self.progress.update(self.task, completed=done, total=total, loss=loss, accuracy=accuracy, speed=speed,
                             refresh=True)


class NotebookEpochBar(EpochBar):
    """The same bar in Jupyter: one output, redrawn in place through an IPython display
    handle, as HTML and as text. A terminal's bar would pile up there as lines, and Rich's
    own live display needs ipywidgets, which a kernel often lacks and a saved notebook
    cannot show; a display handle works in Jupyter, VS Code and Colab, and the saved
    notebook keeps the finished bar."""

    def __init__(self, console: Console, epoch: int, epochs: int) -> None:
        super().__init__(console, epoch, epochs)
        self.handle: Any = None

    def _bundle(self) -> dict[str, str]:
        from ...display import rich_html, rich_plain

        drawn = self.progress.get_renderable()
        return {"text/html": rich_html([drawn]), "text/plain": rich_plain([drawn])}

    def __enter__(self) -> "NotebookEpochBar":
        from IPython.display import display

        self.handle = display(self._bundle(), raw=True, display_id=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.update(self._bundle(), raw=True)

    def update(self, done: int, total: int, loss: float, accuracy: float, speed: float) -> None:
        self.progress.update(self.task, completed=done, total=total, loss=loss, accuracy=accuracy, speed=speed)
        self.handle.update(self._bundle(), raw=True)


def epoch_bar(console: Console, epoch: int, epochs: int) -> EpochBar:
    """The bar that suits where the console prints: a notebook, or a terminal or file."""
    return (NotebookEpochBar if console.is_jupyter else EpochBar)(console, epoch, epochs)


def epoch_line(record: dict) -> str:
    return (f"  test loss {record['test_loss']:.4f}  test accuracy {record['test_accuracy']:.2%}  "
            f"(train loss {record['train_loss']:.4f}, accuracy {record['train_accuracy']:.2%}, "
            f"lr {record['lr']:.3g}, {record['seconds']:.1f} s)")


def results_table(evaluation: Evaluation, classes: Sequence[str], title: str) -> Table:
    """Overall test loss and accuracy, then each class's accuracy."""
    table = Table(title=Text(title), title_justify="left", show_footer=True)
    table.add_column("class", footer="all")
    table.add_column("test images", justify="right", footer=str(evaluation.samples))
    table.add_column("correct", justify="right", footer=str(int(evaluation.confusion.diagonal().sum())))
    table.add_column("accuracy", justify="right", footer=f"{evaluation.accuracy:.2%}")
    totals = evaluation.confusion.sum(dim=1).tolist()
    hits = evaluation.confusion.diagonal().tolist()
    for name, total, hit, accuracy in zip(classes, totals, hits, evaluation.per_class()):
        table.add_row(Text(name), str(total), str(hit), "-" if accuracy is None else f"{accuracy:.2%}")
    table.caption = f"test loss {evaluation.loss:.4f}"
    table.caption_justify = "left"
    return table


def confusion_table(evaluation: Evaluation, classes: Sequence[str]) -> Table:
    """The confusion matrix as text: a row per true class, a column per predicted class."""
    table = Table(title="confusion matrix (rows: true class, columns: predicted class)", title_justify="left")
    table.add_column("true \\ predicted")
    for name in classes:
        table.add_column(Text(name), justify="right")
    for name, row in zip(classes, evaluation.confusion.tolist()):
        table.add_row(Text(name), *(str(v) for v in row))
    return table


class EvaluationReport(dict):
    """What `cnndsl eval --format json` prints, as a dictionary that displays itself as the
    tables of the text output."""

    def __init__(self, payload: dict, tables: list[RenderableType]) -> None:
        super().__init__(payload)
        self.tables = tables

    def _repr_html_(self) -> str:
        from ...display import rich_html

        return rich_html(self.tables)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        from ...display import rich_plain

        printer.text(rich_plain(self.tables))


@dataclass(frozen=True)
class Prediction:
    """One image's most likely classes. `image` is its file, or `image N` for the N-th
    image given as a PIL image or tensor; `pixels` is the image as the network's data set
    holds one (C x H x W uint8, before adaptation)."""

    image: Path | str
    top: list[tuple[int, str, float]]  # (class index, class name, probability), best first
    pixels: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str:
        """The most likely class."""
        return self.top[0][1]

    def line(self) -> str:
        """`seven.png: 7 96.0%, 6 0.7%, 1 0.6%`, as `cnndsl predict` prints it."""
        return f"{self.image}: " + ", ".join(f"{name} {probability:.1%}" for _, name, probability in self.top)

    def as_json(self) -> dict:
        return {"image": str(self.image), "predictions": [
            {"class": name, "index": index, "probability": probability} for index, name, probability in self.top]}


THUMBNAIL_PIXELS = 56


class Predictions(list):
    """The predictions of `cnndsl predict` (a list of `Prediction`), displayed in a notebook
    as a table of the images with their classes."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("\n".join(prediction.line() for prediction in self))

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{_thumbnail(p.pixels)}</td><td>{escape(str(p.image))}</td><td><b>{escape(p.label)}</b></td>"
            f"<td>{escape(', '.join(f'{name} {probability:.1%}' for _, name, probability in p.top))}</td></tr>"
            for p in self)
        return ("<table><thead><tr><th>image</th><th>input</th><th>class</th><th>top classes</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>")


def _thumbnail(pixels: np.ndarray | None) -> str:
    """An image as an inline PNG, enlarged without smoothing so small digits stay legible."""
    if pixels is None:
        return ""
    from PIL import Image

    image = Image.fromarray(pixels[0], "L") if pixels.shape[0] == 1 else Image.fromarray(
        pixels[:3].transpose(1, 2, 0), "RGB")
    scale = max(1, THUMBNAIL_PIXELS // max(image.size))
    image = image.resize((image.size[0] * scale, image.size[1] * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return f'<img src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode("ascii")}" alt="">'
