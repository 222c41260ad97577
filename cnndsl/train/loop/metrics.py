"""Evaluation results: loss, accuracy, confusion matrix and per-class accuracy."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Evaluation:
    """The outcome of one pass over a test set. `confusion[t, p]` counts samples of true
    class t predicted as p; `predictions` holds each sample's predicted class."""

    loss: float
    confusion: torch.Tensor
    predictions: torch.Tensor

    @property
    def samples(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        return float(self.confusion.diagonal().sum()) / max(self.samples, 1)

    def per_class(self) -> list[float | None]:
        """Accuracy of each true class; None for a class absent from the test set."""
        totals = self.confusion.sum(dim=1).tolist()
        hits = self.confusion.diagonal().tolist()
        return [hit / total if total else None for hit, total in zip(hits, totals)]

    def as_json(self, classes: tuple[str, ...]) -> dict:
        return {"samples": self.samples, "test_loss": self.loss, "test_accuracy": self.accuracy,
                "classes": list(classes), "per_class_accuracy": self.per_class(),
                "class_samples": self.confusion.sum(dim=1).tolist(),
                "confusion_matrix": self.confusion.tolist()}


def confusion_matrix(targets: torch.Tensor, predictions: torch.Tensor, classes: int) -> torch.Tensor:
    """K x K counts (rows: true class, columns: predicted class), on the CPU."""
    flat = targets.to(torch.int64) * classes + predictions.to(torch.int64)
    return torch.bincount(flat, minlength=classes * classes).reshape(classes, classes).cpu()
