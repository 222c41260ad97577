"""Data sets: torchvision's layout, strict IDX reading, the decode cache, image folders,
CIFAR pickles read without executing code, and clear errors for damaged data."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnndsl.train.data import torchvision_sets
from cnndsl.train.data.idx import read_idx
from cnndsl.train.data.images import split_every
from cnndsl.train.data.safe_pickle import load_array_pickle
from cnndsl.train.data.sources import load_dataset, parse_spec
from cnndsl.train.errors import TrainError, UsageError
from cnndsl.settings_schema import DataSpec

from .conftest import TINY_NET, bar_images, write_idx, write_mnist
from .helpers import train


def quiet(message: str) -> None:
    pass


def load(spec: str, root: Path, shape: tuple = (1, 28, 28), classes: int = 10):
    return load_dataset(parse_spec(spec), root, shape, classes, quiet)


def test_mnist_is_read_from_torchvisions_layout(mnist_root: Path) -> None:
    dataset = load("mnist", mnist_root)
    assert dataset.image_shape == (1, 28, 28)
    assert (len(dataset.train), len(dataset.test)) == (200, 60)
    assert dataset.train.images.dtype == torch.uint8 and dataset.train.labels.dtype == torch.int64
    assert dataset.classes == tuple("0123456789") and not dataset.flip
    expected, labels = bar_images(200, 28, 1)
    assert torch.equal(dataset.train.images[:, 0], torch.from_numpy(expected))
    assert dataset.train.labels.tolist() == labels.tolist()


@pytest.mark.parametrize("spec, folder, first", [("fashion-mnist", "FashionMNIST", "T-shirt/top"),
                                                 ("kmnist", "KMNIST", "o")])
def test_mnist_family_folders_and_names(tmp_path: Path, spec: str, folder: str, first: str) -> None:
    dataset = load(spec, write_mnist(tmp_path, folder, compress=True))
    assert dataset.classes[0] == first and len(dataset.test) == 60


def test_decoded_data_is_cached_and_rebuilt_when_the_source_changes(mnist_root: Path) -> None:
    load("mnist", mnist_root)
    cache = mnist_root / "MNIST" / "raw" / ".cnndsl-mnist-train.pt"
    assert cache.is_file()
    stored = torch.load(cache, weights_only=True)
    stored["images"].zero_()
    torch.save(stored, cache)  # a stale cache that still matches the sources is used as is
    assert int(load("mnist", mnist_root).train.images.sum()) == 0
    labels = mnist_root / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    os.utime(labels, ns=(labels.stat().st_atime_ns, labels.stat().st_mtime_ns + 10**9))
    assert int(load("mnist", mnist_root).train.images.sum()) > 0


def test_a_damaged_cache_is_ignored(mnist_root: Path) -> None:
    load("mnist", mnist_root)
    (mnist_root / "MNIST" / "raw" / ".cnndsl-mnist-test.pt").write_bytes(b"garbage")
    assert len(load("mnist", mnist_root).test) == 60


def test_truncated_idx_is_a_clear_error(mnist_root: Path) -> None:
    path = mnist_root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(TrainError, match="is truncated: shape 200x28x28 needs 156800 bytes of data, the file has"):
        load("mnist", mnist_root)


def test_wrong_magic_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(TrainError, match="is not an IDX file of 3-d unsigned bytes"):
        read_idx(path, 3)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(TrainError, match="holds only 2 bytes"):
        read_idx(path, 3)


def test_idx_images_of_no_pixels_are_refused_before_a_run_directory_is_made(mnist_root: Path,
                                                                             tmp_path: Path) -> None:
    write_idx(mnist_root / "MNIST" / "raw" / "train-images-idx3-ubyte", np.zeros((200, 0, 0), dtype=np.uint8))
    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET)
    with pytest.raises(TrainError, match="train-images-idx3-ubyte holds items of shape 0x0: every axis after the "
                                         "count needs at least one value"):
        train(net, tmp_path / "run", data_root=mnist_root, data="mnist", epochs=1)
    assert not (tmp_path / "run").exists()


def test_image_and_label_counts_must_agree(mnist_root: Path) -> None:
    write_idx(mnist_root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte", np.zeros(7, dtype=np.uint8))
    with pytest.raises(TrainError, match="holds 60 images but .* holds 7 labels"):
        load("mnist", mnist_root)


def test_labels_out_of_range_are_rejected(mnist_root: Path) -> None:
    write_idx(mnist_root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte", np.full(60, 12, dtype=np.uint8))
    with pytest.raises(TrainError, match="labels run from 12 to 12, but the data set has 10 classes"):
        load("mnist", mnist_root)


def test_failed_download_says_where_to_put_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    with pytest.raises(TrainError) as caught:
        load("mnist", tmp_path / "empty")
    assert "could not download mnist" in caught.value.message
    assert "Temporary failure in name resolution" in caught.value.message
    assert f"{tmp_path / 'empty' / 'MNIST' / 'raw'}" in caught.value.help
    assert "train-images-idx3-ubyte" in caught.value.help


def test_a_failed_download_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets

    def half_done(root: str, **kwargs):
        raw = Path(root) / "MNIST" / "raw"
        raw.mkdir(parents=True)
        (raw / "train-images-idx3-ubyte.gz.part").write_bytes(b"partial")
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, "MNIST", half_done)
    typo = tmp_path / "dtaa" / "mnist"
    with pytest.raises(TrainError, match="could not download mnist"):
        load("mnist", typo)
    assert list(tmp_path.iterdir()) == []  # not even the mistyped root's parent

    kept = tmp_path / "data"
    (kept / "MNIST").mkdir(parents=True)
    (kept / "notes.txt").write_text("mine")
    with pytest.raises(TrainError):
        load("mnist", kept)
    assert sorted(p.name for p in kept.rglob("*")) == ["MNIST", "notes.txt"]


def test_the_cifar_archive_is_unpacked_as_torchvision_does(tmp_path: Path) -> None:
    import tarfile

    staging = tmp_path / "staging"
    folder = staging / "cifar-10-batches-py"
    for index in range(1, 6):
        _cifar_batch(folder / f"data_batch_{index}", 4)
    _cifar_batch(folder / "test_batch", 4)
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [str(i) for i in range(10)]}, protocol=2))
    root = tmp_path / "root"
    root.mkdir()
    with tarfile.open(root / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
        tar.add(folder / "test_batch", arcname="../escape")  # a hostile member is never written
    dataset = load("cifar10", root, (3, 32, 32))
    assert len(dataset.train) == 20 and len(dataset.test) == 4
    assert not (tmp_path / "escape").exists()


def test_the_download_help_names_the_cifar_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(TrainError) as caught:
        load("cifar10", tmp_path / "data", (3, 32, 32))
    assert f"cifar-10-python.tar.gz (as downloaded) into {tmp_path / 'data'}/" in (caught.value.help or "")
    assert not (tmp_path / "data").exists()


def test_unknown_data_set_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown data set `imagenet`"):
        parse_spec("imagenet")
    with pytest.raises(UsageError):
        parse_spec("imagefolder:")
    assert parse_spec("ImageFolder:/x/y") == DataSpec("imagefolder", Path("/x/y"))


def test_digits_split_is_deterministic_and_balanced() -> None:
    first, second = load("digits", Path("unused")), load("digits", Path("unused"))
    assert torch.equal(first.test.labels, second.test.labels)
    assert len(first.train) + len(first.test) == 1797 and first.image_shape == (1, 8, 8)
    assert int(first.train.images.max()) == 255
    counts = torch.bincount(first.test.labels)
    assert counts.min() >= 34 and counts.max() <= 37


def test_split_every_puts_every_fifth_of_each_class_in_the_test_split() -> None:
    labels = np.array([0, 1, 0, 0, 0, 0, 1, 1, 1, 1])
    train, test = split_every(labels, 5)
    assert test.tolist() == [5, 9] and sorted(train.tolist() + test.tolist()) == list(range(10))


def test_fake_data_matches_the_network() -> None:
    dataset = load("fake", Path("unused"), (3, 12, 10), 4)
    assert dataset.image_shape == (3, 12, 10) and len(dataset.classes) == 4
    assert torch.equal(dataset.train.images, load("fake", Path("unused"), (3, 12, 10), 4).train.images)


def _image_folder(root: Path, classes: dict[str, int], size: tuple[int, int] = (20, 16)) -> Path:
    for index, (name, count) in enumerate(classes.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for k in range(count):
            colour = (index * 80, 255 - index * 80, k * 10)
            Image.new("RGB", size, colour).save(root / name / f"{k:03d}.png")
    return root


def test_images_of_more_than_8_bits_are_scaled_not_clipped(tmp_path: Path) -> None:
    from cnndsl.train.data.imagefolder import decode_image

    grey = np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000
    Image.fromarray(grey).save(tmp_path / "sixteen.png")  # a 16-bit grey PNG, mode I;16
    assert Image.open(tmp_path / "sixteen.png").mode == "I;16"
    assert np.array_equal(decode_image(tmp_path / "sixteen.png", "L", None)[0], (grey >> 8).astype(np.uint8))
    unit = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    Image.fromarray(unit).save(tmp_path / "unit.tif")  # floats in [0, 1], mode F
    assert np.array_equal(decode_image(tmp_path / "unit.tif", "L", None)[0], np.rint(unit * 255).astype(np.uint8))
    Image.fromarray(np.full((8, 8), 200, np.int32)).save(tmp_path / "wide.tif")  # 32-bit values in 0-255
    assert (decode_image(tmp_path / "wide.tif", "RGB", None) == 200).all()
    Image.fromarray(np.full((8, 8), 1000.0, np.float32)).save(tmp_path / "far.tif")
    with pytest.raises(TrainError, match=r"far.tif: its float pixels run from 1000 to 1000, outside 0-255 \(or 0-1\)"):
        decode_image(tmp_path / "far.tif", "L", None)


def test_image_folder_without_split(tmp_path: Path) -> None:
    root = _image_folder(tmp_path / "pets", {"cat": 10, "dog": 5})
    (root / ".DS_Store").write_text("finder junk is skipped")
    dataset = load(f"imagefolder:{root}", tmp_path, (3, 8, 8), 2)
    assert dataset.classes == ("cat", "dog") and dataset.flip
    assert (len(dataset.train), len(dataset.test)) == (12, 3)
    assert dataset.image_shape == (3, 8, 8)
    assert dataset.train.images[0, :, 0, 0].tolist() == [0, 255, 0]
    assert list(root.glob(".cnndsl-*.pt"))


def test_a_relative_image_folder_is_found_beside_the_network_or_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    _image_folder(project / "pets", {"cat": 6, "dog": 6})
    _image_folder(elsewhere / "pets", {"cat": 6, "dog": 6})
    net = project / "pets.net"
    net.write_text(TINY_NET.replace("    linear(classes)\n", '    linear(classes)\n    train { data = "imagefolder:pets" }\n'))
    monkeypatch.chdir(elsewhere)
    # in the section: beside the file, wherever the command runs
    from_section = train(net, tmp_path / "a", epochs=1, params={"classes": 2})
    assert from_section.read_config()["data"]["spec"] == f"imagefolder:{(project / 'pets').resolve()}"
    # on the command line: from the working directory, as shells resolve paths
    from_flag = train(net, tmp_path / "b", epochs=1, params={"classes": 2}, data="imagefolder:pets")
    assert from_flag.read_config()["data"]["spec"] == f"imagefolder:{(elsewhere / 'pets').resolve()}"


def test_image_folder_with_train_and_test(tmp_path: Path) -> None:
    _image_folder(tmp_path / "set" / "train", {"a": 3, "b": 3})
    _image_folder(tmp_path / "set" / "test", {"b": 2})
    dataset = load(f"imagefolder:{tmp_path / 'set'}", tmp_path, (1, 6, 6), 2)
    assert dataset.classes == ("a", "b")
    assert dataset.test.labels.tolist() == [1, 1] and dataset.image_shape == (1, 6, 6)


def test_non_image_file_in_a_folder_is_named(tmp_path: Path) -> None:
    root = _image_folder(tmp_path / "pets", {"cat": 3, "dog": 3})
    (root / "dog" / "notes.txt").write_text("not a picture")
    with pytest.raises(TrainError, match=r"notes.txt is not an image that can be read"):
        load(f"imagefolder:{root}", tmp_path, (3, 8, 8), 2)


def test_empty_class_folder_is_named(tmp_path: Path) -> None:
    root = _image_folder(tmp_path / "pets", {"cat": 3})
    (root / "dog").mkdir()
    with pytest.raises(TrainError, match=r"class folder .*dog holds no images"):
        load(f"imagefolder:{root}", tmp_path, (3, 8, 8), 2)


def test_missing_image_folder_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such folder"):
        load(f"imagefolder:{tmp_path / 'nowhere'}", tmp_path, (3, 8, 8), 2)


def _cifar_batch(path: Path, count: int, labels_key: str = "labels") -> None:
    rng = np.random.default_rng(0)
    batch = {"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8), labels_key: list(range(count))}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(batch, protocol=2))


def test_cifar10_batches_are_read_in_torchvisions_layout(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    for index in range(1, 6):
        _cifar_batch(folder / f"data_batch_{index}", 10)
    _cifar_batch(folder / "test_batch", 10)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}, protocol=2))
    dataset = load("cifar10", tmp_path, (3, 32, 32))
    assert dataset.classes[0] == "airplane" and dataset.flip
    assert dataset.image_shape == (3, 32, 32) and len(dataset.train) == 50


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_cifar_pickle_that_would_run_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": _Exploit()}))
    with pytest.raises(TrainError, match="refers to `posix.system`|refers to `os.system`|refers to `nt.system`"):
        load_array_pickle(path)
    assert not (tmp_path / "pwned").exists()


def test_svhn_reads_mat_files(tmp_path: Path) -> None:
    scipy_io = pytest.importorskip("scipy.io")
    rng = np.random.default_rng(0)
    for split, count in (("train", 6), ("test", 4)):
        scipy_io.savemat(tmp_path / f"{split}_32x32.mat",
                         {"X": rng.integers(0, 256, (32, 32, 3, count), dtype=np.uint8),
                          "y": np.arange(1, count + 1).reshape(-1, 1)})
    dataset = load("svhn", tmp_path, (3, 32, 32))
    assert dataset.image_shape == (3, 32, 32) and dataset.train.labels.tolist() == [1, 2, 3, 4, 5, 6]
    assert dataset.test.labels.tolist() == [1, 2, 3, 4]


def test_every_torchvision_source_names_a_real_torchvision_class() -> None:
    import torchvision.datasets

    for source in torchvision_sets.SOURCES.values():
        assert hasattr(torchvision.datasets, source.torchvision_class)
