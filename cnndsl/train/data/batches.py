"""A data split held on the training device, from which batches are drawn by index.

The images stay uint8 (a quarter of float32's memory) and are normally stored already
adapted to the network's channels and size, so drawing a batch is one gather. A data set
that would be too large once resized (say CIFAR brought up to 224x224) is stored at its own
size instead, and each batch is resized as it is drawn.
"""

from __future__ import annotations

import torch

from .adapt import Adaptation, bytes_after_geometry, geometry
from .images import ImageSet

# Adapted data sets up to this size are stored resized; larger ones are resized per batch.
STORE_RESIZED_LIMIT = 4 * 2**30
GEOMETRY_CHUNK = 2048


class DeviceSplit:
    def __init__(self, split: ImageSet, adaptation: Adaptation, device: torch.device) -> None:
        self.adaptation = adaptation
        self.deferred = bytes_after_geometry(len(split), adaptation) > STORE_RESIZED_LIMIT
        if self.deferred:
            images = split.images
        else:
            images = torch.cat([geometry(chunk, adaptation) for chunk in split.images.split(GEOMETRY_CHUNK)]) \
                if len(split) else split.images.new_empty((0, *adaptation.image_shape))
        self.images = images.to(device)
        self.labels = split.labels.to(device)
        self.raw = split  # the untouched CPU images, for the sample-predictions grid

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def images_at(self, index: torch.Tensor | slice) -> torch.Tensor:
        """uint8 images at the adapted channels and size. (`index_select` gathers a batch of
        small images several times faster on the CPU than indexing with a tensor.)"""
        images = self.images[index] if isinstance(index, slice) else self.images.index_select(0, index)
        return geometry(images, self.adaptation) if self.deferred else images
