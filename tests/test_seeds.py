"""The seed tutorials' MNIST networks with their tutorials' training settings
(architectures/seeds/): the same networks as architectures/, and settings that run as written."""

from __future__ import annotations

from pathlib import Path

import pytest

import cnndsl

ARCHITECTURES = Path(__file__).resolve().parent.parent / "architectures"
SEEDS = {  # seed file: (the network it repeats, the tutorial's settings)
    "lab8_lenet5.net": ("lenet5.net", {"epochs": 5, "batch_size": 64, "optimizer": "sgd", "lr": 0.01,
                                       "momentum": 0.5}),
    "mnist_2020.net": ("mnist_2conv.net", {"epochs": 10, "batch_size": 200, "optimizer": "adam", "lr": 0.01}),
    "mnist_6conv_video.net": ("mnist_6conv.net", {"epochs": 25, "batch_size": 120, "optimizer": "adam",
                                                  "lr": 0.01}),
}


def without_lines(summary: dict) -> dict:
    return {**summary, "layers": [{k: v for k, v in layer.items() if k != "line"} for layer in summary["layers"]]}


def test_every_seed_file_is_listed() -> None:
    assert sorted(path.name for path in (ARCHITECTURES / "seeds").glob("*.net")) == sorted(SEEDS)


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_a_seed_is_its_architecture_with_the_tutorials_settings(seed: str) -> None:
    architecture, settings = SEEDS[seed]
    assert without_lines(cnndsl.summary(ARCHITECTURES / "seeds" / seed)) == \
        without_lines(cnndsl.summary(ARCHITECTURES / architecture))
    report = cnndsl.check(ARCHITECTURES / "seeds" / seed)
    assert report.ok
    assert report.network().train == {"data": "mnist", "recipe": "plain", **settings}
