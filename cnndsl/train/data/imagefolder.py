"""`imagefolder:PATH`: one sub-folder per class, optionally inside `train/` and `test/`.

Images of a folder differ in size, so each is decoded once, straight to the network's
input size and to grey or RGB, and the result is cached in PATH. Hidden files are skipped;
any other file that is not a readable image stops the run with its name, because silently
dropping it would train on a different data set than the user thinks.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..errors import TrainError, UsageError
from .cache import cached
from .images import TEST_EVERY, Dataset, ImageSet, Log, from_arrays, split_every

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

# The most pixels an image may have to be decoded: 8192 x 8192, a large photograph (a quarter
# of a gigabyte as RGB). Pillow's own limit is twice this and only warns below it.
MAX_IMAGE_PIXELS = 8192 * 8192


def pil_mode(channels: int) -> str:
    """The PIL mode images are decoded in: grey for one channel, RGB otherwise."""
    return "L" if channels == 1 else "RGB"


def decode_image(path: Path, mode: str, size: tuple[int, int] | None) -> np.ndarray:
    """One image file as a `C x H x W` uint8 array, converted to `mode` and, when `size`
    (h, w) is given, resized to it with Pillow's antialiased bilinear filter. An image of
    more than MAX_IMAGE_PIXELS is refused before it is decoded: a few kilobytes of PNG can
    claim a size that takes gigabytes (a decompression bomb)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():  # Pillow's own bomb warning: the check below says it better
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(path)
    except Image.DecompressionBombError:
        raise _too_large(path, None) from None
    except Exception as exc:  # Pillow raises many types for damaged or foreign files
        raise _unreadable(path, exc) from None
    width, height = opened.size
    if width * height > MAX_IMAGE_PIXELS:
        opened.close()
        raise _too_large(path, (width, height))
    try:
        with opened:
            return image_array(opened, mode, size)
    except TrainError as exc:
        raise TrainError(f"{path}: {exc.message}", help=exc.help) from None
    except Exception as exc:  # Pillow raises many types for damaged or foreign files
        raise _unreadable(path, exc) from None


def image_array(image: "PILImage", mode: str, size: tuple[int, int] | None) -> np.ndarray:
    """A PIL image as a `C x H x W` uint8 array, as `decode_image` makes of a file."""
    from PIL import Image

    converted = eight_bit(image).convert(mode)
    if size is not None and converted.size != (size[1], size[0]):
        converted = converted.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    array = np.asarray(converted, dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


# Pillow converts an image of more than 8 bits a channel to 8 by clipping at 255, so a 16-bit
# grey image comes out nearly white and a float image in [0, 1] black.
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
WIDE_MODES = ("I", "F")  # 32-bit integers and floats: Pillow records no range for them


def eight_bit(image: "PILImage") -> "PILImage":
    """`image` with 8-bit values where it has more: 16-bit grey by its top byte; 32-bit integer
    or float grey taken as is when its values lie in 0-255, and floats in [0, 1] scaled by 255
    (the range torchvision's ToTensor writes); other ranges are refused, not guessed at."""
    from PIL import Image

    if image.mode in SIXTEEN_BIT_MODES:
        return Image.fromarray((np.asarray(image).astype(np.uint16) >> 8).astype(np.uint8), "L")
    if image.mode not in WIDE_MODES:
        return image
    values = np.asarray(image, dtype=np.float64)
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if not (np.isfinite(low) and np.isfinite(high)) or low < 0 or high > 255:
        raise TrainError(f"its {'float' if image.mode == 'F' else '32-bit'} pixels run from {low:g} to {high:g}, "
                         "outside 0-255 (or 0-1), so how they map to 8 bits is unknown",
                         help="save the image with 8 bits a channel (or as 16-bit grey)")
    scale = 255.0 if image.mode == "F" and high <= 1.0 else 1.0
    return Image.fromarray(np.rint(values * scale).astype(np.uint8), "L")


def _unreadable(path: Path, exc: Exception) -> TrainError:
    return TrainError(f"{path} is not an image that can be read ({type(exc).__name__}: {exc})",
                      help="remove it, or replace it with a PNG or JPEG file")


def _too_large(path: Path, size: tuple[int, int] | None) -> TrainError:
    claimed = f"is {size[0]:,}x{size[1]:,} pixels" if size else "claims more pixels than Pillow will decode"
    return TrainError(f"{path} {claimed}, more than the {MAX_IMAGE_PIXELS:,} an image may have (decoding it "
                      "could take gigabytes)", help="shrink the image first, or remove it")


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def scan(folder: Path, root: Path, follow_links: bool) -> tuple[list[str], list[tuple[Path, int]]]:
    """The class names (sub-folders, sorted) and every file with its class index. A link
    (to a class folder, a folder or a file) that leads out of `root` (the image folder) stops the run with its name unless `follow_links`, so that a class
    folder linked to /usr/share is never scanned; a link back into a folder already walked
    is not walked again."""
    root = root.resolve()
    class_dirs = sorted(p for p in folder.iterdir()
                        if p.is_dir() and not _is_hidden(p.name) and _inside(p, root, follow_links))
    if not class_dirs:
        raise TrainError(f"{folder} has no class sub-folders", help="put the images of each class in a folder of its own")
    files: list[tuple[Path, int]] = []
    for index, class_dir in enumerate(class_dirs):
        members = _files(class_dir, root, follow_links)
        if not members:
            raise TrainError(f"class folder {class_dir} holds no images", help="add images or remove the folder")
        files.extend((path, index) for path in members)
    return [d.name for d in class_dirs], files


def _files(class_dir: Path, root: Path, follow_links: bool) -> list[Path]:
    """Every file under `class_dir` that is not hidden (nor inside a hidden folder), sorted."""
    found: list[Path] = []
    walked: set[Path] = set()
    for current, folders, names in os.walk(class_dir, followlinks=True):
        here = Path(current)
        real = here.resolve()
        if real in walked:  # a link back into a folder already walked
            folders[:] = []
            continue
        walked.add(real)
        folders[:] = [name for name in folders if not _is_hidden(name) and _inside(here / name, root, follow_links)]
        found.extend(here / name for name in names
                     if not _is_hidden(name) and _inside(here / name, root, follow_links) and (here / name).is_file())
    return sorted(found)


def _inside(path: Path, root: Path, follow_links: bool) -> bool:
    """True for a path that stays in `root` (or anything, with `follow_links`); a link out
    of it is an error that names it."""
    if follow_links or not path.is_symlink() or path.resolve().is_relative_to(root):
        return True
    raise TrainError(f"{path} is a link to {path.resolve()}, outside the image folder {root}",
                     help="pass --follow-links to read it, or copy the files into the folder")


def _decode_all(files: list[tuple[Path, int]], mode: str, size: tuple[int, int], cache: Path, key: str) -> ImageSet:
    def decode() -> tuple[torch.Tensor, torch.Tensor]:
        images = np.stack([decode_image(path, mode, size) for path, _ in files])
        decoded = from_arrays(images, np.array([label for _, label in files]))
        return decoded.images, decoded.labels

    images, labels = cached(cache, [path for path, _ in files], key, decode)
    return ImageSet(images, labels)


def load_image_folder(path: Path, input_shape: tuple[int, ...], log: Log, follow_links: bool = False) -> Dataset:
    """Read PATH (with `train/` and `test/` inside, or else split deterministically); links
    out of PATH are refused unless `follow_links`."""
    if not path.is_dir():
        raise UsageError(f"imagefolder: no such folder: {path}")
    if len(input_shape) != 3:
        raise TrainError("imagefolder data needs a network whose input is an image (CxHxW), "
                         f"not a vector of {input_shape[0]}")
    channels, height, width = input_shape
    mode, size = pil_mode(channels), (height, width)
    key = f"{mode}{height}x{width}"
    train_dir, test_dir = path / "train", path / "test"
    if train_dir.is_dir() and test_dir.is_dir():
        classes, train_files = scan(train_dir, path, follow_links)
        test_classes, test_files = scan(test_dir, path, follow_links)
        unknown = sorted(set(test_classes) - set(classes))
        if unknown:
            raise TrainError(f"{test_dir} has classes that {train_dir} lacks: {', '.join(unknown)}")
        remap = [classes.index(name) for name in test_classes]
        test_files = [(file, remap[label]) for file, label in test_files]
        log(f"decoding {len(train_files) + len(test_files)} images from {path} at {height}x{width}")
        train = _decode_all(train_files, mode, size, path / f".cnndsl-train-{key}.pt", f"{key}:{classes}")
        test = _decode_all(test_files, mode, size, path / f".cnndsl-test-{key}.pt", f"{key}:{classes}")
    else:
        classes, files = scan(path, path, follow_links)
        log(f"decoding {len(files)} images from {path} at {height}x{width}; no train/ and test/ inside, "
            f"so every {TEST_EVERY}th image of each class is held out for testing")
        every = _decode_all(files, mode, size, path / f".cnndsl-all-{key}.pt", f"{key}:{classes}")
        train_index, test_index = split_every(every.labels.numpy())
        train = ImageSet(every.images[train_index], every.labels[train_index])
        test = ImageSet(every.images[test_index], every.labels[test_index])
    return Dataset(f"imagefolder:{path}", tuple(classes), train, test, flip=True)
