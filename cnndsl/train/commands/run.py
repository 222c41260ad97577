"""A run directory from Python: `cnndsl.train` returns one, `cnndsl.Run(path)` opens one.

It reads what the run left (configuration, status, metrics, final evaluation, plots) and
puts the trained model back to work with `evaluate` and `predict`, the functions behind
`cnndsl eval` and `cnndsl predict`. In a notebook it shows itself as the metrics table and
the plots. Reading a run needs no torch; `evaluate`, `predict` and `model` load it.
"""

from __future__ import annotations

import base64
import json
import warnings
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..rundir.files import ACCURACY_PLOT, CONFUSION_PLOT, EVALUATION, LOSS_PLOT, SAMPLES_PLOT, RunDir

if TYPE_CHECKING:
    from torch import nn

    from .inference import ImageInput, LoadedRun
    from .report import EvaluationReport, Predictions

PLOTS = (LOSS_PLOT, ACCURACY_PLOT, CONFUSION_PLOT, SAMPLES_PLOT)
# metrics.jsonl columns the table shows, with their headings and formats
COLUMNS = (("epoch", "epoch", "{:d}"), ("train_loss", "train loss", "{:.4f}"),
           ("train_accuracy", "train accuracy", "{:.2%}"), ("test_loss", "test loss", "{:.4f}"),
           ("test_accuracy", "test accuracy", "{:.2%}"), ("lr", "lr", "{:.3g}"),
           ("images_per_second", "images/s", "{:,.0f}"), ("seconds", "seconds", "{:.1f}"))


class Run:
    """A run directory written by `cnndsl train` or `cnndsl.train`."""

    def __init__(self, path: str | Path, allow_changed_source: bool = False) -> None:
        """`allow_changed_source` is `--allow-changed-source` of `eval` and `predict`: use a run
        whose stored `.net` source was edited after training (its SHA-256 no longer matches)."""
        self.path = Path(path)
        self.allow_changed_source = allow_changed_source
        self._dir = RunDir.open(self.path)
        self.config: dict = self._dir.read_config()
        self._loaded: dict[str, "LoadedRun"] = {}

    # what the run left

    @property
    def network(self) -> str:
        return str(self.config["network"]["name"])

    @property
    def data(self) -> str:
        return str(self.config["data"]["spec"])

    @property
    def status(self) -> dict:
        """`state` (running, complete, diverged or interrupted), `epochs_completed`, `epochs`."""
        return self._dir.read_status()

    @property
    def metrics(self) -> list[dict]:
        """One record per finished epoch, as in metrics.jsonl."""
        return self._dir.read_metrics()

    @property
    def accuracy(self) -> float | None:
        """The test accuracy after the last finished epoch."""
        records = self.metrics
        return float(records[-1]["test_accuracy"]) if records else None

    @property
    def evaluation(self) -> dict | None:
        """The final evaluation training wrote (evaluation.json), once the run is complete."""
        path = self.path / EVALUATION
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    @property
    def plots(self) -> dict[str, Path]:
        """The PNG plots the run has, by file name."""
        return {name: self.path / name for name in PLOTS if (self.path / name).is_file()}

    # putting the model back to work

    def _load(self, device: str) -> "LoadedRun":
        if device not in self._loaded:
            from .inference import load_run

            self._loaded[device] = load_run(self.path, device, lambda message: warnings.warn(message, stacklevel=3),
                                            allow_changed_source=self.allow_changed_source)
        return self._loaded[device]

    def model(self, device: str = "auto") -> "nn.Module":
        """The trained network with its weights, in evaluation mode."""
        return self._load(device).model

    def evaluate(self, data: str | None = None, data_root: str | Path | None = None,
                 device: str = "auto", follow_links: bool = False) -> "EvaluationReport":
        """Test loss, accuracy, per-class accuracy and confusion matrix on the test split of
        the run's data set, or of `data` (what `cnndsl eval` prints; `follow_links` is its
        `--follow-links`)."""
        from .inference import evaluation_report

        return evaluation_report(str(self.path), self._load(device), data,
                                 Path(data_root) if data_root is not None else None, print, follow_links)

    def predict(self, images: "ImageInput | Sequence[ImageInput]", top_k: int = 3, device: str = "auto",
                invert: bool = False) -> "Predictions":
        """The `top_k` most likely classes of each image: file paths (or folders of images),
        PIL images, or tensors or arrays (`H x W`, `C x H x W`, or a batch `N x C x H x W`;
        uint8, or floats in [0, 1]), adapted as the training images were, and inverted
        first with `invert` (what `cnndsl predict` prints)."""
        from .inference import predict_images

        return predict_images(self._load(device), images, top_k, log=print,
                              warn=lambda message: warnings.warn(message, stacklevel=3), invert=invert)

    # display

    def _headline(self) -> str:
        status = self.status
        accuracy = self.accuracy
        reached = f", test accuracy {accuracy:.2%}" if accuracy is not None else ""
        return (f"{self.network} on {self.data}: {status['state']}, {status.get('epochs_completed', 0)} of "
                f"{status.get('epochs', '?')} epochs{reached}")

    def _cells(self) -> list[list[str]]:
        return [[form.format(record[key]) if key in record else "-" for key, _, form in COLUMNS]
                for record in self.metrics]

    def __repr__(self) -> str:
        return f"<run {self._headline()}, {self.path}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        from rich.table import Table

        from ...display import rich_plain

        table = Table(title=self._headline(), title_justify="left")
        for _, heading, _ in COLUMNS:
            table.add_column(heading, justify="right")
        for row in self._cells():
            table.add_row(*row)
        plots = ", ".join(self.plots)
        printer.text(rich_plain([table, f"run directory: {self.path}" + (f" ({plots})" if plots else "")]))

    def _repr_html_(self) -> str:
        head = "".join(f'<th style="text-align:right">{escape(heading)}</th>' for _, heading, _ in COLUMNS)
        rows = "".join("<tr>" + "".join(f'<td style="text-align:right">{escape(cell)}</td>' for cell in row)
                       + "</tr>" for row in self._cells())
        images = "".join(
            f'<img src="data:image/png;base64,{base64.b64encode(path.read_bytes()).decode("ascii")}" '
            f'alt="{escape(name)}" style="max-width:48%;margin:4px">' for name, path in self.plots.items())
        return (f'<div class="cnndsl-run"><p><b>{escape(self._headline())}</b><br>'
                f"<code>{escape(str(self.path))}</code></p>"
                f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table><div>{images}</div></div>")

