"""What training, `eval` and `predict` print: a live bar per epoch, then tables.

The trainer knows nothing of Rich; it calls `EpochBar.update` a few times a second.
"""

from __future__ import annotations

from typing import Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..loop.metrics import Evaluation


class EpochBar:
    """A Rich progress bar for one epoch, showing running loss, accuracy and images/s. It
    stays on screen when the epoch ends, followed by the epoch's test results.

    It is drawn only when the trainer reports (a few times a second, between steps), not by
    Rich's refresh thread, which would compete with the training loop for the interpreter."""

    def __init__(self, console: Console, epoch: int, epochs: int) -> None:
        self.progress = Progress(
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
        self.task = self.progress.add_task("train", total=None, loss=0.0, accuracy=0.0, speed=0.0)

    def __enter__(self) -> "EpochBar":
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, done: int, total: int, loss: float, accuracy: float, speed: float) -> None:
        self.progress.update(self.task, completed=done, total=total, loss=loss, accuracy=accuracy, speed=speed,
                             refresh=True)


def epoch_line(record: dict) -> str:
    return (f"  test loss {record['test_loss']:.4f}  test accuracy {record['test_accuracy']:.2%}  "
            f"(train loss {record['train_loss']:.4f}, accuracy {record['train_accuracy']:.2%}, "
            f"lr {record['lr']:.3g}, {record['seconds']:.1f} s)")


def results_table(evaluation: Evaluation, classes: Sequence[str], title: str) -> Table:
    """Overall test loss and accuracy, then each class's accuracy."""
    table = Table(title=title, title_justify="left", show_footer=True)
    table.add_column("class", footer="all")
    table.add_column("test images", justify="right", footer=str(evaluation.samples))
    table.add_column("correct", justify="right", footer=str(int(evaluation.confusion.diagonal().sum())))
    table.add_column("accuracy", justify="right", footer=f"{evaluation.accuracy:.2%}")
    totals = evaluation.confusion.sum(dim=1).tolist()
    hits = evaluation.confusion.diagonal().tolist()
    for name, total, hit, accuracy in zip(classes, totals, hits, evaluation.per_class()):
        table.add_row(name, str(total), str(hit), "-" if accuracy is None else f"{accuracy:.2%}")
    table.caption = f"test loss {evaluation.loss:.4f}"
    table.caption_justify = "left"
    return table


def confusion_table(evaluation: Evaluation, classes: Sequence[str]) -> Table:
    """The confusion matrix as text: a row per true class, a column per predicted class."""
    table = Table(title="confusion matrix (rows: true class, columns: predicted class)", title_justify="left")
    table.add_column("true \\ predicted")
    for name in classes:
        table.add_column(name, justify="right")
    for name, row in zip(classes, evaluation.confusion.tolist()):
        table.add_row(name, *(str(v) for v in row))
    return table
