"""Adapting a data set's images to a network's `input`: channels, size, normalisation.

The same `Adaptation` is used for training, `eval` and `predict` (it is stored in the run's
configuration), so an image is always seen by the network exactly as during training.
Geometry (channels and size) works on uint8 tensors and is normally applied once to the
whole data set; normalisation is applied to each batch on the training device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F

from ..errors import TrainError

# ITU-R 601-2 luma, the weights Pillow's RGB -> "L" conversion uses.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
STATISTICS_CHUNK = 4096


@dataclass(frozen=True)
class Adaptation:
    """How images of shape `source` (C, H, W) become inputs of shape `target`
    ((C, H, W), or (D,) for a network that takes a flat vector)."""

    source: tuple[int, int, int]
    target: tuple[int, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """The (C, H, W) images are brought to before normalisation (and flattening)."""
        return self.source if len(self.target) == 1 else cast("tuple[int, int, int]", self.target)  # not a vector

    @property
    def flattens(self) -> bool:
        return len(self.target) == 1

    def describe(self) -> list[str]:
        """One line per step, for printing before training."""
        (c0, h0, w0), (c, h, w) = self.source, self.image_shape
        lines = []
        if (h0, w0) != (h, w):
            lines.append(f"resize {h0}x{w0} -> {h}x{w} (bilinear, antialiased)")
        if c0 != c:
            lines.append("grey copied to every channel" if c0 == 1 else "RGB converted to grey (ITU-R 601 luma)")
            lines[-1] += f": {c0} -> {c} channel{'s' if c > 1 else ''}"
        if self.flattens:
            lines.append(f"flatten {c}x{h}x{w} -> {self.target[0]}")
        stats = ", ".join(f"{m:.4f}" for m in self.mean), ", ".join(f"{s:.4f}" for s in self.std)
        lines.append(f"normalise with the training images' mean ({stats[0]}) and std ({stats[1]})")
        return lines

    def as_json(self) -> dict:
        return {"source": list(self.source), "target": list(self.target), "mean": list(self.mean),
                "std": list(self.std)}

    @staticmethod
    def from_json(data: dict) -> "Adaptation":
        return Adaptation(tuple(data["source"]), tuple(data["target"]),
                          tuple(float(m) for m in data["mean"]), tuple(float(s) for s in data["std"]))


def plan(source: tuple[int, int, int], target: tuple[int, ...]) -> tuple[int, int, int]:
    """Check that images of shape `source` can feed a network taking `target`; returns the
    image shape they are brought to. Raises TrainError when no sensible adaptation exists."""
    c0, h0, w0 = source
    if len(target) == 1:
        if target[0] != c0 * h0 * w0:
            raise TrainError(
                f"the network takes a vector of {target[0]} values, but the images are {c0}x{h0}x{w0} "
                f"= {c0 * h0 * w0} values", help=f"declare `input {c0 * h0 * w0}` or an image input CxHxW")
        return source
    c = target[0]
    if c0 != c and c0 != 1 and not (c0 == 3 and c == 1):
        raise TrainError(f"cannot adapt {c0}-channel images to a {c}-channel network input",
                         help="use an input with 1 or 3 channels")
    return cast("tuple[int, int, int]", target)  # not a vector, so an image input (C, H, W)


def convert_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 `N x C x H x W` images with `channels` channels: grey is repeated, RGB becomes luma."""
    have = images.shape[1]
    if have == channels:
        return images
    if have == 1:
        return images.expand(-1, channels, -1, -1).contiguous()
    weights = torch.tensor(LUMA_WEIGHTS, dtype=torch.float32, device=images.device).view(1, 3, 1, 1)
    return (images.float() * weights).sum(dim=1, keepdim=True).round_().clamp_(0, 255).to(torch.uint8)


def resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 images resized to `size` (h, w), bilinear with antialiasing like torchvision's Resize."""
    if tuple(images.shape[-2:]) == size:
        return images
    scaled = F.interpolate(images.float(), size=size, mode="bilinear", antialias=True, align_corners=False)
    return scaled.round_().clamp_(0, 255).to(torch.uint8)


def geometry(images: torch.Tensor, adaptation: Adaptation) -> torch.Tensor:
    """Channels, then size: uint8 images in, uint8 images of `adaptation.image_shape` out."""
    channels, height, width = adaptation.image_shape
    return resize(convert_channels(images, channels), (height, width))


def statistics(images: torch.Tensor, channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std, in [0, 1] units, of uint8 images once brought to `channels`
    channels (computed at the images' own size: resizing barely moves either figure)."""
    total = torch.zeros(channels, dtype=torch.float64)
    squares = torch.zeros(channels, dtype=torch.float64)
    count = 0
    for chunk in images.split(STATISTICS_CHUNK):
        values = convert_channels(chunk, channels).to(torch.float64).div_(255.0)
        total += values.sum(dim=(0, 2, 3))
        squares += values.square().sum(dim=(0, 2, 3))
        count += values.shape[0] * values.shape[2] * values.shape[3]
    mean = total / max(count, 1)
    variance = (squares / max(count, 1) - mean.square()).clamp_(min=0)
    # A constant channel (std 0) would divide by zero; leave its scale alone instead.
    std = tuple(s if s > 0 else 1.0 for s in variance.sqrt().tolist())
    return tuple(mean.tolist()), std


def adaptation_for(images: torch.Tensor, target: tuple[int, ...]) -> Adaptation:
    """The adaptation of a training set to a network input, statistics included."""
    source = cast("tuple[int, int, int]", tuple(images.shape[1:]))  # N x C x H x W images
    channels = plan(source, target)[0]
    mean, std = statistics(images, channels)
    return Adaptation(source, tuple(target), mean, std)


class Normaliser:
    """uint8 batches (already at the adapted geometry) to normalised float inputs, on one
    device: `x * scale + shift` per channel, which is `(x / 255 - mean) / std` in one pass."""

    def __init__(self, adaptation: Adaptation, device: torch.device) -> None:
        mean = torch.tensor(adaptation.mean, dtype=torch.float32)
        std = torch.tensor(adaptation.std, dtype=torch.float32)
        self.scale = (1.0 / (255.0 * std)).view(1, -1, 1, 1).to(device)
        self.shift = (-mean / std).view(1, -1, 1, 1).to(device)
        self.flatten = adaptation.flattens

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        inputs = torch.addcmul(self.shift, images.float(), self.scale)
        return inputs.flatten(1) if self.flatten else inputs


def bytes_after_geometry(count: int, adaptation: Adaptation) -> int:
    return count * math.prod(adaptation.image_shape)
