"""Adapting images to a network's input, and batch augmentation."""

from __future__ import annotations

import pytest
import torch

from cnndsl.train.data.adapt import Adaptation, Normaliser, adaptation_for, convert_channels, geometry, plan, resize
from cnndsl.train.data.augment import Augmentation, Augmenter, choose
from cnndsl.train.errors import TrainError


def test_grey_to_rgb_repeats_and_rgb_to_grey_uses_luma() -> None:
    grey = torch.tensor([[[[10, 200]]]], dtype=torch.uint8)
    assert convert_channels(grey, 3)[0, :, 0, 1].tolist() == [200, 200, 200]
    rgb = torch.tensor([255, 0, 0], dtype=torch.uint8).view(1, 3, 1, 1)
    assert convert_channels(rgb, 1).item() == round(0.299 * 255)


def test_resize_keeps_uint8_and_constant_images() -> None:
    images = torch.full((2, 1, 28, 28), 77, dtype=torch.uint8)
    resized = resize(images, (32, 32))
    assert resized.dtype == torch.uint8 and resized.shape == (2, 1, 32, 32) and bool((resized == 77).all())


def test_statistics_and_normalisation() -> None:
    images = torch.tensor([0, 255], dtype=torch.uint8).view(2, 1, 1, 1).expand(2, 1, 4, 4).contiguous()
    adaptation = adaptation_for(images, (1, 4, 4))
    assert adaptation.mean == pytest.approx((0.5,)) and adaptation.std == pytest.approx((0.5,))
    normalised = Normaliser(adaptation, torch.device("cpu"))(images)
    assert normalised[0].unique().tolist() == pytest.approx([-1.0]) and normalised[1].unique().tolist() == pytest.approx([1.0])


def test_vector_inputs_flatten_images_of_the_same_size() -> None:
    images = torch.zeros(3, 1, 8, 8, dtype=torch.uint8)
    adaptation = adaptation_for(images, (64,))
    assert adaptation.flattens and Normaliser(adaptation, torch.device("cpu"))(images).shape == (3, 64)
    with pytest.raises(TrainError, match="takes a vector of 100 values, but the images are 1x8x8 = 64"):
        plan((1, 8, 8), (100,))


def test_impossible_channel_adaptation_is_rejected() -> None:
    with pytest.raises(TrainError, match="cannot adapt 3-channel images to a 4-channel"):
        plan((3, 32, 32), (4, 32, 32))


def test_adaptation_description_and_json_round_trip() -> None:
    adaptation = Adaptation((1, 28, 28), (3, 32, 32), (0.1307,), (0.3081,))
    text = " ".join(adaptation.describe())
    assert "resize 28x28 -> 32x32" in text and "1 -> 3 channels" in text and "0.1307" in text
    assert Adaptation.from_json(adaptation.as_json()) == adaptation
    assert geometry(torch.zeros(2, 1, 28, 28, dtype=torch.uint8), adaptation).shape == (2, 3, 32, 32)


def test_auto_augmentation_flips_only_where_the_data_set_allows() -> None:
    assert choose("auto", (1, 32, 32), False, False, 10) == Augmentation(4, False)
    assert choose("auto", (3, 32, 32), True, False, 20) == Augmentation(4, True)
    assert choose("flip", (3, 8, 8), False, False, 1) == Augmentation(0, True)
    assert choose("crop", (1, 8, 8), True, False, 1) == Augmentation(1, False)
    assert not choose("auto", (1, 8, 8), True, True, 20).active


def test_auto_augmentation_leaves_short_runs_alone() -> None:
    assert not choose("auto", (3, 32, 32), True, False, 9).active


def test_batch_crop_and_flip_match_a_per_image_reference() -> None:
    images = torch.randint(0, 256, (16, 3, 6, 5), dtype=torch.uint8)
    augmenter = Augmenter(Augmentation(2, True), (3, 6, 5), torch.device("cpu"))
    augmenter.draw(16, torch.Generator().manual_seed(3))
    result = augmenter(images, slice(0, 16))
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    for k in range(16):
        dy, dx = augmenter.offsets[k].tolist()
        crop = padded[k, :, dy:dy + 6, dx:dx + 5]
        expected = crop.flip(-1) if augmenter.flips[k] else crop
        assert torch.equal(result[k], expected)
    assert augmenter.flips.any() and not augmenter.flips.all()
