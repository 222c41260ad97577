"""The warm-up thread: a whole throwaway step only where a step is cheap."""

from __future__ import annotations

from pathlib import Path

import pytest

import cnndsl
from cnndsl.backends.torch_module import build
from cnndsl.counting import BYTES_PER_VALUE, summarize
from cnndsl.train.commands import session
from cnndsl.train.loop import warmup
from cnndsl.train.loop.settings import resolve

from .conftest import TINY_NET, write_mnist
from .helpers import train

ROOT = Path(__file__).resolve().parents[2]


def _work(source: str | Path) -> tuple[int, int]:
    """Multiply-adds and activation values of one sample."""
    summary = summarize(cnndsl.check(source).network())
    return summary.macs, summary.activation_bytes // BYTES_PER_VALUE


def test_a_step_is_taken_for_small_networks_only() -> None:
    assert warmup.takes_a_step(*_work(ROOT / "architectures/lenet5.net"), 64)
    assert warmup.takes_a_step(*_work(ROOT / "architectures/seeds/mnist_6conv_video.net"), 64)
    assert not warmup.takes_a_step(*_work(ROOT / "architectures/resnet18.net"), 64)
    assert not warmup.takes_a_step(*_work(ROOT / "architectures/lenet5.net"), 1_000_000)
    # no multiply-add to speak of, but a hundred million values a batch to normalise and activate
    upsampled = ("network Up { input 3x32x32 upsample(16) repeat 6 { batchnorm relu dropout(0.1) } "
                 "globalavgpool flatten linear(10) }")
    macs, values = _work(upsampled)
    assert macs < 10**6 and not warmup.takes_a_step(macs, values, 64)


@pytest.mark.parametrize("step", [True, False])
def test_without_a_step_the_copy_only_builds_its_optimizer(monkeypatch: pytest.MonkeyPatch, step: bool) -> None:
    steps: list[int] = []
    optimizers: list[int] = []
    real_criterion, real_optimizer = warmup.build_criterion, warmup.build_optimizer
    monkeypatch.setattr(warmup, "build_criterion", lambda s: steps.append(1) or real_criterion(s))
    monkeypatch.setattr(warmup, "build_optimizer", lambda m, s: optimizers.append(1) or real_optimizer(m, s))
    net = cnndsl.check(TINY_NET).network()
    settings = resolve({}, {"data": "mnist", "batch_size": 4}, "the test")
    warmup.Warmup(lambda: build(net), net.input_shape, 10, settings, warmup.WarmShapes(4, False, 8, False),
                  step).join()
    assert optimizers == [1] and steps == ([1] if step else [])


def test_a_run_of_a_large_network_does_not_step_its_warm_up_copy(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    """The tutorial's 224x224 network on a few images: a throwaway step at batch 64 took longer
    than the whole run."""
    made: list[bool] = []

    class Recorded(warmup.Warmup):
        def __init__(self, *args, **kwargs) -> None:
            made.append(args[5])  # step
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(session, "Warmup", Recorded)
    write_mnist(tmp_path / "data", train=8, test=4)
    for width, expected in ((8, True), (60_000, False)):
        net = tmp_path / f"net{width}.net"
        net.write_text(TINY_NET.replace("width = 8", f"width = {width}"))
        train(net, tmp_path / f"run{width}", tmp_path / "data", data="mnist", epochs=1, batch_size=64)
        assert made[-1] is expected


def test_a_ctrl_c_while_waiting_for_the_warm_up_is_raised_once_it_has_finished(monkeypatch: pytest.MonkeyPatch
                                                                              ) -> None:
    """Python 3.11's Thread.join, interrupted, takes the thread for finished; a warm-up thread
    still inside a PyTorch kernel when the interpreter exits aborts the process. The warm-up is
    asked to stop measuring, so that the wait is short."""
    import os
    import signal
    import threading
    import time

    finished = threading.Event()
    stopped: list[bool] = []

    def slow(self, *args) -> None:  # a long measurement, which leaves when asked to stop
        stopped.append(self._stop.wait(5))
        finished.set()

    monkeypatch.setattr(warmup.Warmup, "_run", slow)
    net = cnndsl.check(TINY_NET).network()
    settings = resolve({}, {"data": "mnist", "batch_size": 4}, "the test")
    started = warmup.Warmup(lambda: build(net), net.input_shape, 10, settings, warmup.WarmShapes(4, False, 8, False),
                            True)
    threading.Timer(0.1, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    with pytest.raises(KeyboardInterrupt):
        started.join()
    assert finished.is_set()  # (the thread's is_alive() cannot tell: an interrupted join marks it stopped)
    assert stopped == [True]


def test_a_failed_run_does_not_wait_for_a_stuck_warm_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A Ctrl-C in the middle of an import can leave the import lock held and the warm-up
    waiting for it forever; the run that failed must still end."""
    import threading
    import time

    from cnndsl.train.errors import TrainError

    stuck = threading.Event()
    monkeypatch.setattr(warmup.Warmup, "_run", staticmethod(lambda *args: stuck.wait(30)))
    monkeypatch.setattr(session, "FAILED_RUN_WAIT_SECONDS", 0.2)
    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET)

    def broken(*args, **kwargs):
        raise TrainError("the data set is broken")

    monkeypatch.setattr(session, "load_dataset", broken)
    start = time.perf_counter()
    with pytest.raises(TrainError, match="the data set is broken"):
        train(net, tmp_path / "run", data="mnist", epochs=1)
    stuck.set()
    assert time.perf_counter() - start < 10
