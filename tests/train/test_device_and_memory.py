"""The GPU path, tested on the CPU by faking the device's properties (no GPU is needed): bf16
only where native, fp16 with a gradient scaler elsewhere, deterministic CUDA when a seed is
asked for, data kept on the GPU only when it fits a share of its free memory (else streamed from
host memory); and the memory check that `train`, `eval` and `predict` make before allocating."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cnndsl.train.commands import session
from cnndsl.train.data import batches
from cnndsl.train.data.adapt import adaptation_for
from cnndsl.train.data.batches import DeviceSplit, fits_on_device
from cnndsl.train.data.images import ImageSet
from cnndsl.train.errors import TrainError
from cnndsl.train.loop import device as device_module, memory
from cnndsl.train.loop.device import DevicePlan, cuda_autocast_dtype, pick_device, tf32_switches

from .conftest import TINY_NET
from .helpers import deterministic, train, weights


def tf32_allowed() -> bool:
    return all(getattr(switch, name) in (True, "tf32") for switch, name in tf32_switches())


@pytest.fixture()
def fake_gpu(monkeypatch: pytest.MonkeyPatch):
    """A CUDA device that is never touched: availability, index, name and capability faked,
    and every global switch pick_device sets restored afterwards."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Fake GPU")
    switches = ((torch.backends.cudnn, "benchmark"), (torch.backends.cudnn, "deterministic"), *tf32_switches())
    # saved and put back by hand: PyTorch's precision objects answer getattr and setattr
    # through hooks that monkeypatch's own bookkeeping does not see
    saved = [(switch, name, getattr(switch, name)) for switch, name in switches]
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)

    def gpu(capability: tuple[int, int]) -> None:
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported",
                            lambda including_emulation=True: including_emulation or capability >= (8, 0))

    yield gpu
    torch.use_deterministic_algorithms(False)
    for switch, name, value in saved:
        setattr(switch, name, value)


@pytest.mark.parametrize(("capability", "dtype"), [((9, 0), torch.bfloat16), ((8, 0), torch.bfloat16),
                                                   ((7, 5), torch.float16), ((6, 1), torch.float16)])
def test_bf16_only_where_native_fp16_with_a_scaler_elsewhere(fake_gpu, capability, dtype) -> None:
    fake_gpu(capability)
    plan = pick_device("cuda")
    assert plan.autocast_dtype is dtype and plan.scales_gradients is (dtype is torch.float16)
    assert plan.describe() == ("Fake GPU (bfloat16 autocast, channels-last)" if dtype is torch.bfloat16
                               else "Fake GPU (float16 autocast, gradient scaling, channels-last)")


@pytest.mark.parametrize(("capability", "dtype"), [((8, 6), torch.bfloat16), ((7, 0), torch.float16)])
def test_without_including_emulation_the_capability_decides(fake_gpu, monkeypatch: pytest.MonkeyPatch,
                                                            capability, dtype) -> None:
    fake_gpu(capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)  # PyTorch < 2.4: counts emulation
    assert cuda_autocast_dtype() is dtype


def test_a_seed_makes_cuda_deterministic(fake_gpu) -> None:
    fake_gpu((9, 0))
    plan = pick_device("cuda", deterministic=True)
    assert plan.deterministic and "deterministic" in plan.describe()
    assert not torch.backends.cudnn.benchmark and torch.backends.cudnn.deterministic
    assert not tf32_allowed()
    assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == device_module.CUBLAS_WORKSPACE


def test_without_a_seed_cuda_is_fast(fake_gpu) -> None:
    fake_gpu((9, 0))
    plan = pick_device("cuda", deterministic=False)
    assert not plan.deterministic and "deterministic" not in plan.describe()
    assert torch.backends.cudnn.benchmark and tf32_allowed()
    assert not torch.are_deterministic_algorithms_enabled()


def test_a_seed_in_the_flags_or_the_section_asks_for_determinism(tmp_path: Path, monkeypatch) -> None:
    asked: list[bool] = []
    real = device_module.pick_device

    def spy(choice, cuda_index=None, deterministic=False):
        asked.append(deterministic)
        return real(choice, cuda_index, deterministic)

    monkeypatch.setattr(session, "pick_device", spy)
    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET)
    train(net, tmp_path / "a", data="fake", epochs=1)
    train(net, tmp_path / "b", data="fake", epochs=1, seed=4)
    seeded = tmp_path / "seeded.net"
    seeded.write_text(TINY_NET.replace("    linear(classes)\n", "    linear(classes)\n    train { seed = 4 }\n"))
    train(seeded, tmp_path / "c", data="fake", epochs=1)
    assert asked == [False, True, True]


def test_data_stays_on_the_gpu_only_within_its_share_of_free_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (1000, 4000))
    gpu = torch.device("cuda", 0)
    assert fits_on_device(int(1000 * batches.DEVICE_DATA_SHARE), gpu)
    assert not fits_on_device(int(1000 * batches.DEVICE_DATA_SHARE) + 1, gpu)
    assert fits_on_device(10**15, torch.device("cpu"))


def test_a_split_kept_in_host_memory_gives_the_same_batches() -> None:
    images = torch.randint(0, 256, (40, 1, 6, 6), dtype=torch.uint8)
    split = ImageSet(images, torch.arange(40) % 4)
    adaptation = adaptation_for(images, (1, 8, 8))
    resident = DeviceSplit(split, adaptation, torch.device("cpu"), resident=True)
    streamed = DeviceSplit(split, adaptation, torch.device("cpu"), resident=False)
    index = torch.tensor([3, 17, 0, 39])
    assert torch.equal(resident.images_at(index), streamed.images_at(index))
    assert torch.equal(resident.labels_at(slice(5, 9)), streamed.labels_at(slice(5, 9)))


def test_training_from_host_memory_is_the_same_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET)
    settings = dict(data="digits", epochs=2, batch_size=50, seed=2, limit=300)
    resident = train(net, tmp_path / "resident", **settings)
    monkeypatch.setattr(batches, "fits_on_device", lambda size, device: False)
    streamed = train(net, tmp_path / "streamed", **settings)
    assert deterministic(streamed.read_metrics()) == deterministic(resident.read_metrics())
    expected, got = weights(resident), weights(streamed)
    assert all(torch.equal(expected[k], got[k]) for k in expected)


# ---- memory ---------------------------------------------------------------------------

def test_training_that_needs_more_memory_than_there_is_is_refused(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    net = tmp_path / "tiny.net"
    net.write_text(TINY_NET)
    monkeypatch.setattr(memory, "available_bytes", lambda device: 100 * 1024)
    with pytest.raises(TrainError) as caught:
        train(net, tmp_path / "run", data="fake", batch_size=64)
    # Tiny: 8*9+8 + 10*128+10 = 1,370 weights (x4 with AdamW's two moments and the gradient);
    # 64 + 512 + 512 + 128 + 128 + 10 = 1,354 values per sample, x 64 x 3
    assert caught.value.message == ("training Tiny in batches of 64 needs about 1.0 MiB of memory (21.4 KiB for the "
                                    "parameters, 1015.5 KiB for the activations of a batch of 64), but cpu has "
                                    "100.0 KiB free")
    assert caught.value.help.startswith("use a smaller --batch-size")
    assert not (tmp_path / "run").exists()


def test_a_network_too_large_for_this_machine_is_refused_before_the_data(tmp_path: Path) -> None:
    net = tmp_path / "big.net"
    net.write_text("network Big { input 3x2048x2048 conv(256, 3, padding = 1) relu globalavgpool flatten "
                   "linear(10) }\n")
    done = subprocess.run([sys.executable, "-m", "cnndsl", "train", str(net), "--data", "fake", "--out",
                           str(tmp_path / "run")], capture_output=True, text=True, timeout=900)
    assert done.returncode == 1, done.stderr
    assert re.fullmatch(r"error: training Big in batches of 64 needs about [\d.]+ TiB of memory \([\d.]+ KiB for "
                        r"the parameters, [\d.]+ TiB for the activations of a batch of 64\), but cpu has [\d.]+ "
                        r"[KMGT]iB free\n  help: use a smaller --batch-size, or a smaller network \(`cnndsl summary` "
                        r"shows where the memory goes\)\n", done.stderr), done.stderr
    assert not (tmp_path / "run").exists()


def test_available_memory_is_read_from_proc_meminfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemFree:         1000 kB\nMemAvailable:    2048 kB\n")
    monkeypatch.setattr(memory, "MEMINFO", meminfo)
    assert memory.available_bytes(torch.device("cpu")) == 2048 * 1024
    meminfo.write_text("MemTotal: 1 kB\n")
    assert memory.available_bytes(torch.device("cpu")) is None
    monkeypatch.setattr(memory, "MEMINFO", tmp_path / "missing")
    assert memory.available_bytes(torch.device("cpu")) is None


def test_cuda_memory_is_what_the_driver_says_is_free(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (3 * 2**30, 80 * 2**30))
    assert memory.available_bytes(torch.device("cuda", 0)) == 3 * 2**30
    assert memory.available_bytes(torch.device("mps")) is None


@pytest.mark.parametrize(("count", "text"), [(512, "512 B"), (1536, "1.5 KiB"), (3 * 2**30, "3.0 GiB"),
                                             (5 * 2**40, "5.0 TiB")])
def test_sizes_are_printed_in_binary_units(count: int, text: str) -> None:
    assert memory.size(count) == text


@pytest.mark.parametrize("capability, channels_last", [("AVX512", True), ("AVX2", False), ("DEFAULT", False)])
def test_cpu_training_is_channels_last_where_the_kernels_use_avx512(monkeypatch: pytest.MonkeyPatch,
                                                                   capability: str, channels_last: bool) -> None:
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    plan = pick_device("cpu")
    assert plan.channels_last is channels_last
    assert ("channels-last" in plan.describe()) is channels_last
