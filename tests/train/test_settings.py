"""Training settings: the train section, flags over it, defaults, and clear errors."""

from __future__ import annotations

import pytest

from cnndsl.train.errors import TrainError, UsageError
from cnndsl.train.loop.settings import resolve
from cnndsl.train_schema import DEFAULT_LR, DEFAULT_WEIGHT_DECAY, SETTING_NAMES

NO_FLAGS = {name: None for name in SETTING_NAMES}


def test_defaults_follow_the_optimizer() -> None:
    sgd = resolve({"data": "digits", "optimizer": "sgd"}, NO_FLAGS, "here")
    adamw = resolve({"data": "digits"}, NO_FLAGS, "here")
    assert (sgd.lr, sgd.weight_decay) == (DEFAULT_LR["sgd"], DEFAULT_WEIGHT_DECAY["sgd"])
    assert (adamw.optimizer, adamw.lr) == ("adamw", DEFAULT_LR["adamw"])


def test_flags_override_the_section() -> None:
    section = {"data": "mnist", "epochs": 20, "lr": 0.1, "augment": False}
    settings = resolve(section, {**NO_FLAGS, "epochs": 3, "data": "digits"}, "here")
    assert (settings.data, settings.epochs, settings.lr, settings.augment) == ("digits", 3, 0.1, "none")


def test_integers_are_accepted_where_numbers_are_expected() -> None:
    assert resolve({"data": "fake", "lr": 1, "weight_decay": 0}, NO_FLAGS, "here").lr == 1.0


@pytest.mark.parametrize("section, words", [
    ({"epoch": 3}, ["unknown training setting `epoch`", "did you mean `epochs`"]),
    ({"epochs": 0}, ["`epochs` must be at least 1"]),
    ({"epochs": 2.5}, ["`epochs` must be a whole number"]),
    ({"batch_size": True}, ["`batch_size` must be a whole number"]),
    ({"lr": -1.0}, ["`lr` must be above 0"]),
    ({"momentum": 1.0}, ["`momentum` must be at least 0 and below 1"]),
    ({"optimizer": "rmsprop"}, ["`optimizer` must be one of sgd, adam, adamw"]),
    ({"schedule": 3}, ["`schedule` must be one of"]),
    ({"augment": "rotate"}, ["`augment` must be one of"]),
    ({"data": 7}, ["`data` must be a non-empty string"]),
    ({"data": "minst"}, ["unknown data set `minst`", "did you mean `mnist`?"]),
    ({"data": "imagefolder:"}, ["`imagefolder` needs a folder"]),
])
def test_bad_section_values_name_the_setting(section: dict, words: list[str]) -> None:
    with pytest.raises(TrainError) as caught:
        resolve({"data": "digits", **section}, NO_FLAGS, "the train section of Net")
    text = f"{caught.value.message} {caught.value.help or ''}"
    assert caught.value.message.startswith("the train section of Net: ")
    for word in words:
        assert word in text


def test_bad_flag_names_the_flag() -> None:
    with pytest.raises(TrainError, match="--batch-size: `batch_size` must be at least 1"):
        resolve({"data": "digits"}, {**NO_FLAGS, "batch_size": 0}, "here")


def test_an_unknown_data_set_stays_a_usage_error_wherever_it_is_named() -> None:
    for section, flags in (({"data": "nope"}, NO_FLAGS), ({"data": "digits"}, {**NO_FLAGS, "data": "nope"})):
        with pytest.raises(UsageError) as caught:
            resolve(section, flags, "here")
        assert caught.value.exit_code == 2 and "unknown data set `nope`" in caught.value.message


def test_data_is_required() -> None:
    with pytest.raises(TrainError, match="no data set"):
        resolve({}, NO_FLAGS, "here")


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_optimizers_fuse_their_update_where_torch_can_and_fall_back_where_it_cannot(
        optimizer: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from cnndsl.train.loop import recipe

    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    settings = resolve({"data": "digits", "optimizer": optimizer}, NO_FLAGS, "here")
    built = recipe.build_optimizer(model, settings)
    assert built.defaults["fused"] is True  # this PyTorch has fused kernels on the CPU
    assert [group["weight_decay"] for group in built.param_groups] == [settings.weight_decay, 0.0]

    kind = type(built)

    class NoFusedKernel(kind):  # an older PyTorch refuses fused=True in the constructor
        def __init__(self, *args, fused: bool | None = None, **kwargs) -> None:
            if fused:
                raise RuntimeError("`fused=True` is not supported on this device")
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(recipe, kind.__name__, NoFusedKernel)
    fallback = recipe.build_optimizer(model, settings)
    assert isinstance(fallback, NoFusedKernel) and fallback.defaults["foreach"] is True
    assert not fallback.defaults.get("fused")
