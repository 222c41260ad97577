"""The plots (drawn with Pillow) and the atomic, code-free file handling of run directories."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from PIL import Image

from cnndsl.train.errors import TrainError
from cnndsl.train.rundir.files import RunDir, safe_load
from cnndsl.train.rundir.plots import Series, confusion_chart, line_chart, nice_ticks, percent, samples_chart


@pytest.mark.parametrize("low, high, count, expected", [
    (0, 1, 6, [0, 0.2, 0.4, 0.6, 0.8, 1.0]), (0.93, 0.987, 6, None), (1, 7, 7, [1, 2, 3, 4, 5, 6, 7]),
    (1, 7, 4, [0, 2, 4, 6, 8]), (2.3, 2.3, 6, None)])
def test_nice_ticks_are_round_and_cover_the_range(low: float, high: float, count: int, expected: list | None) -> None:
    ticks = nice_ticks(low, high, count)
    assert ticks[0] <= low and ticks[-1] >= high and len(ticks) >= 2
    if expected is not None:
        assert ticks == pytest.approx(expected)


def test_line_chart_with_one_epoch_and_a_missing_value(tmp_path: Path) -> None:
    path = tmp_path / "loss.png"
    line_chart(path, "loss", [Series("train", [(1, 0.5)]), Series("test", [(1, float("nan"))])], "epoch", "loss",
               lambda v: f"{v:.2g}")
    with Image.open(path) as image:
        assert image.size == (960, 600) and len(image.getcolors(1 << 20)) > 10


def test_confusion_chart_scales_to_many_classes(tmp_path: Path) -> None:
    for classes in (2, 100):
        confusion = torch.eye(classes, dtype=torch.int64) * 5 + 1
        path = tmp_path / f"c{classes}.png"
        confusion_chart(path, confusion, [f"class {k}" for k in range(classes)], "confusion")
        with Image.open(path) as image:
            assert 300 < image.width < 1200 and 300 < image.height < 1200


def test_samples_chart_for_grey_and_rgb_images(tmp_path: Path) -> None:
    for channels in (1, 3):
        images = torch.randint(0, 256, (10, channels, 8, 8), dtype=torch.uint8)
        path = tmp_path / f"s{channels}.png"
        samples_chart(path, images, list(range(10)), [0] * 10, [str(k) for k in range(10)], "samples")
        assert Image.open(path).size[0] > 8 * 100


def test_percent_format() -> None:
    assert percent(0.985) == "98.5%" and percent(1.0) == "100%"


def test_safe_load_accepts_tensors_and_refuses_code(tmp_path: Path) -> None:
    good = tmp_path / "good.pt"
    torch.save({"w": torch.ones(2)}, good)
    assert torch.equal(safe_load(good, "cpu")["w"], torch.ones(2))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(pickle.dumps(Path("/etc"), protocol=2))
    with pytest.raises(TrainError, match="refusing to load"):
        safe_load(bad, "cpu")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(TrainError, match="cannot read"):
        safe_load(garbage, "cpu")


def test_a_run_directory_needs_its_config_and_status(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(TrainError, match="status.json is missing"):
        RunDir.open(tmp_path)
