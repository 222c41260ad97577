"""The CPU layout: measured on the run's network where the run leaves it open (loop/layout.py),
the rule where it asks for a seed, the recorded one where it resumes."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from rich.console import Console
from torch import nn

from cnndsl.train.commands import session
from cnndsl.train.commands.inference import load_run
from cnndsl.train.errors import Interrupted, TrainError
from cnndsl.train.loop import device as device_module
from cnndsl.train.loop import layout, warmup
from cnndsl.train.loop import trainer as trainer_module
from cnndsl.train.loop.device import DevicePlan
from cnndsl.train.loop.layout import LayoutTiming, recorded_layout, time_layouts
from cnndsl.train.loop.settings import resolve
from cnndsl.train.rundir.files import RunDir

from .helpers import deterministic, interrupt_at, train, weights

# Two convolutions, so that the layouts differ (a 1-channel input is laid out alike in both).
LAYOUT_NET = """\
network Two(classes = 10) {
    input 1x8x8
    conv(6, 3, padding = 1)
    relu
    conv(6, 3, padding = 1)
    relu
    maxpool(2)
    flatten
    linear(classes)
}
"""
SETTINGS = dict(data="digits", epochs=2, batch_size=50, limit=300)


class SlowIn(nn.Module):
    """A convolution whose step sleeps in one layout."""

    def __init__(self, slow: torch.memory_format) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.slow = slow

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv.weight.is_contiguous(memory_format=self.slow):
            time.sleep(0.01)
        return self.conv(x).flatten(1)


@pytest.mark.parametrize("slow, chosen", [(torch.contiguous_format, True), (torch.channels_last, False)])
def test_the_faster_layout_is_chosen(slow: torch.memory_format, chosen: bool) -> None:
    settings = resolve({}, {"data": "mnist", "recipe": "plain", "optimizer": "sgd", "lr": 0.01}, "the test")
    timing = time_layouts(SlowIn(slow), torch.randn(2, 3, 4, 4), torch.randint(0, 4, (2,)), nn.CrossEntropyLoss(),
                          settings, threading.Event())
    assert timing is not None
    assert timing.channels_last is chosen
    assert (timing.ratio < 0.5) if chosen else (timing.ratio > 2)
    assert layout.MIN_ROUNDS <= timing.rounds <= layout.MAX_ROUNDS


def test_channels_last_must_win_by_more_than_noise_as_the_printed_figure_says() -> None:
    assert LayoutTiming(layout.CHANNELS_LAST_AT_MOST, 3).channels_last
    assert LayoutTiming(layout.CHANNELS_LAST_AT_MOST + 0.0049, 3).channels_last  # printed as 0.95x
    assert not LayoutTiming(layout.CHANNELS_LAST_AT_MOST + 0.0051, 3).channels_last  # 0.96x
    assert not LayoutTiming(layout.CHANNELS_LAST_AT_MOST + 0.01, 3).channels_last


@pytest.mark.parametrize("after", [0, 1, 3])
def test_a_measurement_asked_to_stop_takes_no_further_step(after: int) -> None:
    """A failed or interrupted run stops the warm-up; a step of a large network is long."""
    stop, steps = threading.Event(), []

    class Counted(SlowIn):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            steps.append(1)
            if len(steps) == after:
                stop.set()
            return super().forward(x)

    stop.set() if after == 0 else None
    timing = time_layouts(Counted(torch.channels_last), torch.randn(2, 3, 4, 4), torch.randint(0, 4, (2,)),
                          nn.CrossEntropyLoss(), resolve({}, {"data": "mnist"}, "the test"), stop)
    assert timing is None and len(steps) == after


def _run(net_file: Path, out: Path, **settings: Any) -> tuple[str, dict]:
    """A run's printed lines and its config.json's device record."""
    text = io.StringIO()
    train(net_file, out, console=Console(file=text, width=200), **settings)
    return text.getvalue(), json.loads((out / "config.json").read_text())["device"]


@pytest.fixture
def net_file(tmp_path: Path) -> Path:
    path = tmp_path / "two.net"
    path.write_text(LAYOUT_NET)
    return path


@pytest.fixture
def formats(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each Trainer made trains a channels-last model."""
    made: list[bool] = []
    original = trainer_module.Trainer.__init__

    def init(self, model, *args, **kwargs):
        conv = next(module for module in model.modules() if isinstance(module, nn.Conv2d) and module.in_channels > 1)
        made.append(conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous())
        original(self, model, *args, **kwargs)

    monkeypatch.setattr(trainer_module.Trainer, "__init__", init)
    return made


def _measured(monkeypatch: pytest.MonkeyPatch, ratio: float) -> list[int]:
    """Make the warm-up measure `ratio` and the rule say the opposite; count the measurements."""
    calls: list[int] = []
    monkeypatch.setattr(warmup, "time_layouts", lambda *args: calls.append(1) or LayoutTiming(ratio, 3))
    monkeypatch.setattr(device_module, "channels_last_on_cpu", lambda: ratio > 1)
    return calls


@pytest.mark.parametrize("ratio", [0.5, 2.0])
def test_a_run_without_a_seed_trains_in_the_layout_it_measured(net_file: Path, tmp_path: Path, ratio: float,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              formats: list[bool]) -> None:
    calls = _measured(monkeypatch, ratio)
    printed, device = _run(net_file, tmp_path / "run", **SETTINGS)
    assert calls == [1]
    assert formats == [ratio < 1]
    assert device["channels_last"] is (ratio < 1) and device["layout_ratio"] == ratio
    expected = (f"channels-last, measured {ratio:.2f}x the default layout's step time" if ratio < 1 else
                f"default layout, channels-last measured {ratio:.2f}x its step time")
    assert f"device cpu ({expected})" in printed


def test_a_run_with_a_seed_keeps_the_rule(net_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          formats: list[bool]) -> None:
    calls = _measured(monkeypatch, 0.5)  # the rule says default
    printed, device = _run(net_file, tmp_path / "run", seed=4, **SETTINGS)
    assert calls == [] and formats == [False]
    assert device["channels_last"] is False and device["layout_ratio"] is None
    assert next(line for line in printed.splitlines() if line.startswith("device ")) == "device cpu"


def test_a_resumed_run_keeps_the_layout_it_recorded(net_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    formats: list[bool]) -> None:
    settings = {**SETTINGS, "epochs": 3}
    with monkeypatch.context() as measured:
        _measured(measured, 0.5)
        _run(net_file, tmp_path / "whole", **settings)
        interrupt_at(2, measured)
        with pytest.raises(Interrupted):
            _run(net_file, tmp_path / "cut", **settings)
    calls = _measured(monkeypatch, 2.0)
    monkeypatch.setattr(device_module, "channels_last_on_cpu", lambda: False)  # both say default now
    printed, device = _run(net_file, tmp_path / "cut", resume=True, **settings)
    assert calls == [] and formats == [True, True, True]
    assert device["channels_last"] is True and "(channels-last" in printed
    whole, resumed = RunDir(tmp_path / "whole"), RunDir(tmp_path / "cut")
    assert deterministic(resumed.read_metrics()) == deterministic(whole.read_metrics())
    expected, got = weights(whole), weights(resumed)
    assert all(torch.equal(expected[k], got[k]) for k in expected)


def test_a_run_from_before_the_layout_was_recorded_resumes_with_the_rule(net_file: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        formats: list[bool]) -> None:
    with monkeypatch.context() as measured:
        _measured(measured, 2.0)
        interrupt_at(2, measured)
        with pytest.raises(Interrupted):
            _run(net_file, tmp_path / "cut", **{**SETTINGS, "epochs": 3})
    config_file = tmp_path / "cut" / "config.json"
    config = json.loads(config_file.read_text())
    del config["device"]["channels_last"], config["device"]["layout_ratio"]
    config_file.write_text(json.dumps(config))
    monkeypatch.setattr(device_module, "channels_last_on_cpu", lambda: True)
    _run(net_file, tmp_path / "cut", resume=True, **{**SETTINGS, "epochs": 3})
    assert formats == [False, True]


def test_a_recorded_layout_that_is_not_true_or_false_is_refused(net_file: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        interrupt_at(2, patch)
        with pytest.raises(Interrupted):
            _run(net_file, tmp_path / "cut", **{**SETTINGS, "epochs": 3})
    config_file = tmp_path / "cut" / "config.json"
    config = json.loads(config_file.read_text())
    config["device"]["channels_last"] = "yes"
    config_file.write_text(json.dumps(config))
    with pytest.raises(TrainError, match="device.channels_last"):
        _run(net_file, tmp_path / "cut", resume=True, **{**SETTINGS, "epochs": 3})


def test_eval_and_predict_compute_in_the_layout_the_run_trained_in(net_file: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _measured(monkeypatch, 0.5)  # the rule says default
    _run(net_file, tmp_path / "run", **SETTINGS)
    loaded = load_run(tmp_path / "run", "cpu", lambda message: None)
    conv = [module for module in loaded.model.modules() if isinstance(module, nn.Conv2d)][-1]
    assert loaded.plan.channels_last and not conv.weight.is_contiguous()


@pytest.mark.parametrize("used, recorded, expected", [("cpu", True, True), ("cpu", False, False), ("cpu", None, False),
                                                      ("cuda:0", True, False)])
def test_only_a_layout_recorded_on_the_cpu_is_kept_on_the_cpu(used: str, recorded: bool | None,
                                                               expected: bool) -> None:
    device = {"used": used, **({} if recorded is None else {"channels_last": recorded})}
    rule = DevicePlan(torch.device("cpu"), None, False)
    assert recorded_layout(rule, {"device": device}).channels_last is expected


@pytest.mark.parametrize("fails", [True, False])
def test_a_failed_run_stops_the_measurement_before_it_waits(net_file: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch, fails: bool) -> None:
    events: list[str] = []

    class Recorded(warmup.Warmup):
        def stop(self) -> None:
            events.append("stop")
            super().stop()

        def join(self, timeout: float | None = None) -> None:
            events.append("join")
            super().join(timeout)

    monkeypatch.setattr(session, "Warmup", Recorded)
    if fails:
        with pytest.raises(TrainError):
            _run(net_file, tmp_path / "run", **{**SETTINGS, "data": "imagefolder:nowhere"})
    else:
        _run(net_file, tmp_path / "run", **SETTINGS)
    assert events[-2:] == ["stop", "join"] if fails else "stop" not in events
