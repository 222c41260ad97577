"""The torchvision data sets: MNIST, Fashion-MNIST, KMNIST, CIFAR-10, CIFAR-100 and SVHN.

Files are looked for in `--data-root` in torchvision's own layout (`ROOT/MNIST/raw/...`,
`ROOT/cifar-10-batches-py/...`, `ROOT/train_32x32.mat`), so a folder torchvision filled is
used as is; CIFAR's own archive (`cifar-10-python.tar.gz`, as downloaded) is unpacked in place;
when files are still missing, torchvision's downloader fetches them, and a download that fails
takes away every folder and file it created. The files are then read here, strictly, rather than through torchvision's classes, so that a damaged file
gets a clear message and the data never goes through per-sample PIL images.
"""

from __future__ import annotations

import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..errors import TrainError
from .cache import cached
from .idx import read_idx
from .images import Dataset, ImageSet, Log, from_arrays
from .safe_pickle import load_array_pickle

SPLITS = ("train", "test")
DIGIT_NAMES = tuple(str(d) for d in range(10))
FASHION_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                 "Ankle boot")
KMNIST_NAMES = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")


@dataclass(frozen=True)
class Source:
    """Where one data set lives under the root, how to read a split, how to download it."""

    folder: str
    files: dict[str, tuple[str, ...]]
    torchvision_class: str
    flip: bool
    read: Callable[["Source", Path, str], tuple[np.ndarray, np.ndarray]]
    class_names: Callable[["Source", Path], tuple[str, ...]]
    meta: tuple[str, ...] = ()
    archive: str | None = None  # the file the data set is distributed as, unpacked into `folder`

    def locate(self, directory: Path, name: str) -> Path | None:
        """The file `name` in `directory`, also accepted gzip-compressed (as it is downloaded)."""
        for candidate in (directory / name, directory / f"{name}.gz"):
            if candidate.is_file():
                return candidate
        return None

    def paths(self, directory: Path, split: str) -> list[Path]:
        found = [self.locate(directory, name) for name in self.files[split]]
        if any(path is None for path in found):
            raise TrainError(f"missing files in {directory}")
        return [path for path in found if path is not None]  # all of them, checked above

    def missing(self, directory: Path) -> list[str]:
        needed = [name for split in SPLITS for name in self.files[split]] + list(self.meta)
        return [name for name in needed if self.locate(directory, name) is None]


def _read_idx_pair(source: Source, directory: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    image_path, label_path = source.paths(directory, split)
    images, labels = read_idx(image_path, 3), read_idx(label_path, 1)
    if len(images) != len(labels):
        raise TrainError(f"{image_path} holds {len(images)} images but {label_path} holds {len(labels)} labels")
    return images[:, None], labels


def _fixed_names(names: tuple[str, ...]) -> Callable[[Source, Path], tuple[str, ...]]:
    return lambda source, directory: names


def _mnist_like(torchvision_class: str, names: tuple[str, ...]) -> Source:
    return Source(f"{torchvision_class}/raw",
                  {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                   "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")},
                  torchvision_class, False, _read_idx_pair, _fixed_names(names))


def _pickle_dict(path: Path) -> dict:
    contents = load_array_pickle(path)
    if not isinstance(contents, dict):
        raise TrainError(f"{path} is not a CIFAR batch: it holds a {type(contents).__name__}, not a dict")
    return {key.decode("latin1") if isinstance(key, bytes) else key: value for key, value in contents.items()}


def _cifar(folder: str, train: tuple[str, ...], test: str, meta: str, names_key: str, labels_key: str,
           torchvision_class: str, archive: str) -> Source:
    def read(source: Source, directory: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
        images, labels = [], []
        for path in source.paths(directory, split):
            batch = _pickle_dict(path)
            data, batch_labels = batch.get("data"), batch.get(labels_key)
            if not isinstance(data, np.ndarray) or batch_labels is None or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 \
                    or len(batch_labels) != len(data):
                raise TrainError(f"{path} is not a CIFAR batch: it needs `data` (N x 3072) and N `{labels_key}`")
            images.append(data.reshape(-1, 3, 32, 32))
            labels.append(np.asarray(batch_labels, dtype=np.int64))
        return np.concatenate(images), np.concatenate(labels)

    def class_names(source: Source, directory: Path) -> tuple[str, ...]:
        path = directory / meta
        names = _pickle_dict(path).get(names_key) if path.is_file() else None
        if not isinstance(names, list):
            raise TrainError(f"{path} is missing or has no `{names_key}` list of class names")
        return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)

    return Source(folder, {"train": train, "test": (test,)}, torchvision_class, True, read, class_names, (meta,),
                  archive)


def _read_svhn(source: Source, directory: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        from scipy.io import loadmat
    except ImportError:
        raise TrainError("--data svhn needs scipy to read its .mat files", help="install it with `pip install scipy`") \
            from None
    (path,) = source.paths(directory, split)
    try:
        contents = loadmat(str(path))
    except Exception as exc:  # scipy raises several unrelated types for damaged files
        raise TrainError(f"cannot read {path}: {exc}") from None
    data, labels = contents.get("X"), contents.get("y")
    if not isinstance(data, np.ndarray) or data.ndim != 4 or labels is None or labels.size != data.shape[3]:
        raise TrainError(f"{path} is not an SVHN file: it needs `X` (32 x 32 x 3 x N) and N labels `y`")
    labels = labels.astype(np.int64).reshape(-1) % 10  # SVHN labels the digit 0 as 10
    return np.transpose(data, (3, 2, 0, 1)), labels


SOURCES: dict[str, Source] = {
    "mnist": _mnist_like("MNIST", DIGIT_NAMES),
    "fashion-mnist": _mnist_like("FashionMNIST", FASHION_NAMES),
    "kmnist": _mnist_like("KMNIST", KMNIST_NAMES),
    "cifar10": _cifar("cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)), "test_batch",
                      "batches.meta", "label_names", "labels", "CIFAR10", "cifar-10-python.tar.gz"),
    "cifar100": _cifar("cifar-100-python", ("train",), "test", "meta", "fine_label_names", "fine_labels", "CIFAR100",
                       "cifar-100-python.tar.gz"),
    "svhn": Source("", {"train": ("train_32x32.mat",), "test": ("test_32x32.mat",)}, "SVHN", False, _read_svhn,
                   _fixed_names(DIGIT_NAMES)),
}


def load_torchvision(kind: str, root: Path, log: Log) -> Dataset:
    """Read a torchvision data set from `root`, downloading it first when files are missing."""
    source = SOURCES[kind]
    directory = root / source.folder if source.folder else root
    missing = source.missing(directory)
    if missing and source.archive and (root / source.archive).is_file():
        log(f"{kind}: unpacking {root / source.archive}")
        unpack(root / source.archive, root, source.folder)
        missing = source.missing(directory)
    if missing:
        log(f"{kind}: {', '.join(missing)} not found in {directory}; downloading into {root}")
        download(kind, source, root, directory, missing)
    classes = source.class_names(source, directory)
    splits = {split: _split(kind, source, directory, split, len(classes)) for split in SPLITS}
    return Dataset(kind, classes, splits["train"], splits["test"], source.flip)


def _split(kind: str, source: Source, directory: Path, split: str, classes: int) -> ImageSet:
    def decode() -> tuple:
        images, labels = source.read(source, directory, split)
        if len(labels) and (labels.min() < 0 or labels.max() >= classes):
            raise TrainError(f"{kind} {split} labels run from {labels.min()} to {labels.max()}, "
                             f"but the data set has {classes} classes")
        decoded = from_arrays(images, labels)
        return decoded.images, decoded.labels

    images, labels = cached(directory / f".cnndsl-{kind}-{split}.pt", source.paths(directory, split), "raw", decode)
    return ImageSet(images, labels)


def download(kind: str, source: Source, root: Path, directory: Path, missing: list[str]) -> None:
    """Fetch the data set with torchvision's downloader; any failure becomes a message that
    says which files to put where."""
    import torchvision.datasets as tv_datasets

    dataset_class = getattr(tv_datasets, source.torchvision_class)
    created = next((path for path in reversed((root, *root.parents)) if not path.exists()), None)
    levels = [created] if created else [root, *(root / part for part in _prefixes(source.folder))]
    before = {level: _entries(level) for level in levels}
    try:
        root.mkdir(parents=True, exist_ok=True)
        if kind == "svhn":
            for split in SPLITS:
                dataset_class(str(root), split=split, download=True)
        else:
            dataset_class(str(root), train=True, download=True)
    except Exception as exc:  # network errors, HTTP errors, checksum mismatches, full disks
        _remove_new(before)
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reason = " ".join(lines)[:300] if lines else type(exc).__name__
        offline = (f"{source.archive} (as downloaded) into {root}/, or " if source.archive else "") + \
            f"{', '.join(missing)} (or their .gz) into {directory}/"
        raise TrainError(
            f"could not download {kind} into {root}: {reason}",
            help=f"without network access, put {offline}, or point --data-root at a folder that has them") from None
    still_missing = source.missing(directory)
    if still_missing:
        raise TrainError(f"downloading {kind} did not produce {', '.join(still_missing)} in {directory}")


def unpack(archive: Path, root: Path, folder: str) -> None:
    """Unpack a data set's archive into `root`, taking only the members under `folder` and
    refusing links, devices and paths that leave `root` (tarfile's `data` filter)."""
    if not hasattr(tarfile, "data_filter"):  # Python 3.10.12 / 3.11.4 brought safe extraction
        raise TrainError(f"unpacking {archive} safely needs Python 3.10.12, 3.11.4 or newer",
                         help=f"unpack it yourself into {root}/")
    try:
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.name == folder or m.name.startswith(f"{folder}/")]
            tar.extractall(root, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise TrainError(f"cannot unpack {archive}: {exc}",
                         help="download it again, or unpack it yourself into the same folder") from None


def _prefixes(folder: str) -> Iterator[str]:
    """`a`, `a/b` for `a/b`: the folders below the root that lead to a data set's files."""
    parts = Path(folder).parts
    return ("/".join(parts[:end]) for end in range(1, len(parts) + 1))


def _entries(level: Path) -> set[str] | None:
    """The names in a folder, or None when it does not exist (yet)."""
    try:
        return {entry.name for entry in level.iterdir()}
    except OSError:
        return None


def _remove_new(before: dict[Path, set[str] | None]) -> None:
    """Take away what a failed download made: the first folder on the way to the data set's
    files that did not exist before it, and the entries that are new in those that did."""
    for level, names in before.items():
        if names is None:
            shutil.rmtree(level, ignore_errors=True)
            return
        for name in (_entries(level) or set()) - names:
            target = level / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target, ignore_errors=True)
            else:
                target.unlink(missing_ok=True)
