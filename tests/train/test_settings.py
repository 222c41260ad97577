"""Training settings: the train section, flags over it, defaults, and clear errors."""

from __future__ import annotations

import pytest

from cnndsl.train.errors import TrainError, UsageError
from cnndsl.train.loop.settings import resolve, resolve_explained
from cnndsl.settings_schema import CHECKS, FAST, PLAIN, SETTING_NAMES, Problem, read_spec

NO_FLAGS = {name: None for name in SETTING_NAMES}


def test_defaults_follow_the_optimizer() -> None:
    sgd = resolve({"data": "digits", "recipe": "fast", "optimizer": "sgd"}, NO_FLAGS, "here")
    adamw = resolve({"data": "digits"}, NO_FLAGS, "here")
    assert (sgd.lr, sgd.weight_decay) == (FAST.lr["sgd"], FAST.weight_decay["sgd"])
    assert (adamw.recipe, adamw.optimizer, adamw.lr) == ("fast", "adamw", FAST.lr["adamw"])
    adam = resolve({"data": "digits", "optimizer": "adam"}, NO_FLAGS, "here")
    assert (adam.recipe, adam.lr, adam.momentum) == ("plain", PLAIN.lr["adam"], PLAIN.momentum["adam"])


def test_stating_the_optimizer_runs_it_as_written() -> None:
    """LAB8's settings, stated without a recipe, run as a PyTorch loop would: no schedule,
    smoothing, decay or augmentation slipped in by the tuned recipe."""
    lab8 = {"data": "mnist", "optimizer": "sgd", "lr": 0.01, "momentum": 0.5}
    settings = resolve(lab8, NO_FLAGS, "here")
    assert (settings.recipe, settings.optimizer, settings.lr, settings.momentum) == ("plain", "sgd", 0.01, 0.5)
    assert (settings.schedule, settings.label_smoothing, settings.weight_decay, settings.augment) == \
        ("constant", 0.0, 0.0, "none")
    # a flag states as much as the section does
    assert resolve({"data": "mnist"}, {**NO_FLAGS, "lr": 0.1}, "here").recipe == "plain"
    # naming the recipe wins over the rule, in the section or by flag; stated values stay
    fast = resolve({**lab8, "recipe": "fast"}, NO_FLAGS, "here")
    assert (fast.recipe, fast.schedule, fast.lr, fast.momentum) == ("fast", "onecycle", 0.01, 0.5)
    assert resolve(lab8, {**NO_FLAGS, "recipe": "fast"}, "here").label_smoothing == FAST.label_smoothing
    # plain SGD without a stated momentum is PyTorch's: none
    assert resolve({"data": "mnist", "recipe": "plain"}, NO_FLAGS, "here").momentum == 0.0


def test_the_explanation_names_the_recipe_and_every_filled_in_value() -> None:
    resolved = resolve_explained({"data": "mnist", "optimizer": "sgd"}, {**NO_FLAGS, "epochs": 5}, "here")
    assert resolved.filled == ("recipe", "batch_size", "lr", "momentum", "weight_decay", "schedule",
                               "label_smoothing", "augment", "seed")
    first, stated, filled = resolved.describe()
    assert first.startswith("plain (`optimizer` stated without a recipe")
    assert stated == "as stated: epochs 5, optimizer sgd"
    assert filled == ("filled in by default: batch_size 64, lr 0.01, momentum 0, weight_decay 0, "
                      "schedule constant, label_smoothing 0, augment none, seed 0")
    assert resolve_explained({"data": "mnist"}, {**NO_FLAGS, "recipe": "plain"}, "here").recipe_reason == \
        "named by --recipe"
    assert resolve_explained({"data": "mnist"}, NO_FLAGS, "here").describe()[0].startswith("fast (the default")


def test_flags_override_the_section() -> None:
    section = {"data": "mnist", "epochs": 20, "lr": 0.1, "augment": False}
    settings = resolve(section, {**NO_FLAGS, "epochs": 3, "data": "digits"}, "here")
    assert (settings.data, settings.epochs, settings.lr, settings.augment) == ("digits", 3, 0.1, "none")


def test_a_data_set_name_is_recorded_in_one_spelling() -> None:
    """`--data FAKE` and `--data fake` are one data set, so a run resumed with either matches."""
    assert resolve({}, {**NO_FLAGS, "data": " FAKE "}, "here").data == "fake"
    assert resolve({"data": "MNIST"}, NO_FLAGS, "here").data == "mnist"
    assert resolve({}, {**NO_FLAGS, "data": "ImageFolder:Pets/Train"}, "here").data == "ImageFolder:Pets/Train"


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
    ({"recipe": "slow"}, ["`recipe` must be one of fast, plain"]),
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


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), 10**400])
@pytest.mark.parametrize("name", ["lr", "weight_decay", "momentum", "label_smoothing"])
def test_a_rate_must_be_a_finite_number(name: str, value: float) -> None:
    problem = CHECKS[name](name, value)
    assert isinstance(problem, Problem) and f"`{name}` must be a finite number" in problem.message


def test_a_home_folder_of_an_unknown_user_is_a_problem_not_a_crash() -> None:
    problem = read_spec("imagefolder:~nosuchuser-cnndsl/x")
    assert isinstance(problem, Problem) and problem.usage
    assert problem.message == "`~nosuchuser-cnndsl` names no user on this machine: imagefolder:~nosuchuser-cnndsl/x"
