"""Data augmentation on whole uint8 batches: random crop with zero padding, and horizontal flip.

Both are a choice of which source pixel lands where, so one gather does them together,
for the whole batch, on the training device. The random draws for an epoch are made up
front from the run's generator, which keeps a resumed run identical to an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

# A random crop shifts an image by up to this fraction of its side (4 pixels at 32x32).
CROP_FRACTION = 1 / 8
# `auto` augments runs of at least this many epochs. Augmentation pays off when a network
# would otherwise start to memorise its training set; a short run is still underfitting,
# and augmenting it only slows its progress.
AUTO_AUGMENT_MIN_EPOCHS = 10


@dataclass(frozen=True)
class Augmentation:
    padding: int
    flip: bool

    @property
    def active(self) -> bool:
        return self.padding > 0 or self.flip

    def describe(self) -> str:
        parts = ([f"random crop with {self.padding}-pixel padding"] if self.padding else []) + \
                (["horizontal flip"] if self.flip else [])
        return ", ".join(parts) or "none"


def choose(setting: str, image_shape: tuple[int, ...], flip_allowed: bool, vector_input: bool,
           epochs: int) -> Augmentation:
    """The augmentation an `augment` setting (checked by settings_schema.py) asks for on these
    images. `auto`, in runs of AUTO_AUGMENT_MIN_EPOCHS or more, crops, and flips only data
    sets whose classes survive mirroring (not digits or letters)."""
    if vector_input or setting == "none" or (setting == "auto" and epochs < AUTO_AUGMENT_MIN_EPOCHS):
        return Augmentation(0, False)
    padding = max(1, round(min(image_shape[-2:]) * CROP_FRACTION))
    if setting == "auto":
        return Augmentation(padding, flip_allowed)
    return Augmentation(padding if "crop" in setting else 0, "flip" in setting)


class Augmenter:
    """Applies an Augmentation to batches; `draw` makes one epoch's random choices."""

    def __init__(self, augmentation: Augmentation, image_shape: tuple[int, int, int], device: torch.device) -> None:
        self.augmentation = augmentation
        self.device = device
        channels, self.height, self.width = image_shape
        self.rows = torch.arange(self.height, device=device)
        self.cols = torch.arange(self.width, device=device)
        self.channel_index = torch.arange(channels, device=device).view(1, -1, 1, 1)
        self.offsets: torch.Tensor | None = None
        self.flips: torch.Tensor | None = None

    def draw(self, count: int, generator: torch.Generator) -> None:
        """Crop offsets and flip decisions for the `count` samples of the coming epoch."""
        span = 2 * self.augmentation.padding + 1
        offsets = torch.randint(0, span, (count, 2), generator=generator)
        flips = torch.rand(count, generator=generator) < 0.5 if self.augmentation.flip else torch.zeros(count, dtype=torch.bool)
        self.offsets, self.flips = offsets.to(self.device), flips.to(self.device)

    def __call__(self, images: torch.Tensor, positions: slice) -> torch.Tensor:
        """Augment a uint8 batch; `positions` are the samples' places in this epoch's order."""
        if not self.augmentation.active:
            return images
        if self.offsets is None or self.flips is None:
            raise RuntimeError("Augmenter.draw must be called before each epoch")
        padding = self.augmentation.padding
        padded = F.pad(images, (padding, padding, padding, padding)) if padding else images
        offsets, flips = self.offsets[positions], self.flips[positions]
        rows = offsets[:, :1] + self.rows
        cols = torch.where(flips[:, None], self.width - 1 - self.cols, self.cols) + offsets[:, 1:]
        batch = torch.arange(images.shape[0], device=images.device).view(-1, 1, 1, 1)
        return padded[batch, self.channel_index, rows[:, None, :, None], cols[:, None, None, :]]
