"""A data split from which batches are drawn by index, for the training device.

The images stay uint8 (a quarter of float32's memory) and are normally stored already
adapted to the network's channels and size, so drawing a batch is one gather. A data set
that would be too large once resized (say CIFAR brought up to 224x224) is stored at its own
size instead, and each batch is resized as it is drawn.

On a GPU, a split is kept in GPU memory only when it takes at most DEVICE_DATA_SHARE of the
memory free at that moment; a larger one stays in host memory, and each batch is gathered
there, copied into pinned memory and sent with a non-blocking copy, so the GPU need not
wait for it (PyTorch's caching host allocator keeps the pinned block until the copy is done).
"""

from __future__ import annotations

import torch

from .adapt import Adaptation, bytes_after_geometry, geometry
from .images import ImageSet

# Adapted data sets up to this size are stored resized; larger ones are resized per batch.
STORE_RESIZED_LIMIT = 4 * 2**30
GEOMETRY_CHUNK = 2048
# The share of a GPU's free memory a data split may take; the rest is for the model, its
# activations and the other split.
DEVICE_DATA_SHARE = 0.5


def fits_on_device(size: int, device: torch.device) -> bool:
    """Whether `size` bytes of data should live on `device`: always on the CPU and Apple's
    GPU (whose memory is the host's), on CUDA when within DEVICE_DATA_SHARE of the free memory."""
    return device.type != "cuda" or size <= DEVICE_DATA_SHARE * torch.cuda.mem_get_info(device)[0]


class DeviceSplit:
    """`device` is where batches are used; the split lives there or, when `resident` is
    false (decided by fits_on_device when not given), in host memory."""

    def __init__(self, split: ImageSet, adaptation: Adaptation, device: torch.device,
                 resident: bool | None = None) -> None:
        self.adaptation = adaptation
        self.device = device
        self.deferred = bytes_after_geometry(len(split), adaptation) > STORE_RESIZED_LIMIT
        if self.deferred:
            images = split.images
        else:
            images = torch.cat([geometry(chunk, adaptation) for chunk in split.images.split(GEOMETRY_CHUNK)]) \
                if len(split) else split.images.new_empty((0, *adaptation.image_shape))
        size = images.numel() * images.element_size() + split.labels.numel() * split.labels.element_size()
        self.resident = fits_on_device(size, device) if resident is None else resident
        storage = device if self.resident else torch.device("cpu")
        self.images = images.to(storage)
        self.labels = split.labels.to(storage)  # indices for `images_at` and `labels_at` live here too
        self.raw = split  # the untouched CPU images, for the sample-predictions grid

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def images_at(self, index: torch.Tensor | slice) -> torch.Tensor:
        """uint8 images at the adapted channels and size, on the device. (`index_select`
        gathers a batch of small images several times faster on the CPU than indexing with
        a tensor.)"""
        images = self._send(self.images[index] if isinstance(index, slice) else self.images.index_select(0, index))
        return geometry(images, self.adaptation) if self.deferred else images

    def labels_at(self, index: torch.Tensor | slice) -> torch.Tensor:
        return self._send(self.labels[index] if isinstance(index, slice) else self.labels.index_select(0, index))

    def _send(self, batch: torch.Tensor) -> torch.Tensor:
        """A batch gathered in host memory goes to the device through pinned memory, without
        waiting; a resident split's batch is there already."""
        if self.resident:
            return batch
        if self.device.type == "cuda":
            batch = batch.pin_memory()
        return batch.to(self.device, non_blocking=True)
