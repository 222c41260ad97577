"""`cnndsl.load_weights`: another model's tensors, paired in registration order and checked.

The network is tests/golden/weights/tiny.net; the reference model is written in plain PyTorch
with names of its own and a `Linear` head where the `.net` file has a 1x1 convolution, as a
torchvision model would be. The messages of
the three refusals are golden files under tests/golden/weights/ (re-bless with --bless), and
docs/errors.md shows them.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import cnndsl
from cnndsl.backends.torch_module import build
from cnndsl.backends.weights import WeightsError
from cnndsl.compiler import check_file
from cnndsl.parser import read_source
from cnndsl.render import plain

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "weights"



def reference(width: int = 4, classes: int = 3) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("features", nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width)))
    model.add_module("pool", nn.Sequential(nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()))
    model.add_module("fc", nn.Linear(width, classes))
    batchnorm = model.features[1]
    batchnorm.running_mean.uniform_(-1, 1)
    batchnorm.running_var.uniform_(0.5, 2)
    batchnorm.num_batches_tracked.fill_(7)
    return model.eval()


def tiny(**params: int) -> nn.Module:
    """tests/golden/weights/tiny.net, compiled; a 1x1 convolution where the reference has a Linear."""
    file, problems = read_source(GOLDEN / "tiny.net", "tiny.net")
    assert file is not None, problems
    return build(check_file(file, overrides=params).network()).eval()


def same_outputs(model: nn.Module, ref: nn.Module) -> bool:
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        return torch.allclose(model(x), ref(x), rtol=0, atol=1e-6)


def test_a_state_dict_with_other_names_fills_the_model_in_order() -> None:
    ref, model = reference(), tiny()
    assert not same_outputs(model, ref)
    assert cnndsl.load_weights(model, ref.state_dict()) is model
    assert same_outputs(model, ref)
    assert model.state_dict()["head.weight"].shape == (3, 4, 1, 1)  # the Linear weight, in a 1x1 conv
    assert int(model.state_dict()["batchnorm1.num_batches_tracked"]) == 7  # both sides have it: copied


def test_a_file_without_batch_counters_still_fits() -> None:
    ref, model = reference(), tiny()
    state = {k: v for k, v in ref.state_dict().items() if not k.endswith("num_batches_tracked")}
    cnndsl.load_weights(model, state)
    assert same_outputs(model, ref)
    assert int(model.state_dict()["batchnorm1.num_batches_tracked"]) == 0


def test_pytorch_files_checkpoints_and_run_directories(tmp_path: Path) -> None:
    ref = reference()
    torch.save(ref.state_dict(), tmp_path / "plain.pth")
    torch.save({"epoch": 3, "model": ref.state_dict(), "optimizer": {"lr": 0.1}}, tmp_path / "checkpoint.pt")
    (tmp_path / "run").mkdir()
    torch.save(ref.state_dict(), tmp_path / "run" / "weights.pt")
    for source in (tmp_path / "plain.pth", str(tmp_path / "checkpoint.pt"), tmp_path / "run"):
        model = tiny()
        cnndsl.load_weights(model, source)
        assert same_outputs(model, ref), source


def test_fresh_layers_keep_their_initialisation_whatever_the_file_holds(bless: bool) -> None:
    ref, model = reference(classes=5), tiny()
    head = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("head.")}
    cnndsl.load_weights(model, ref.state_dict(), fresh=["head"])
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in head.items())
    assert torch.equal(state["stem.weight"], ref.state_dict()["features.0.weight"])
    with pytest.raises(WeightsError, match="no layer with tensors is named `haed`") as caught:
        cnndsl.load_weights(model, ref.state_dict(), fresh=["haed"])
    assert caught.value.diagnostic.code == "E0305" and caught.value.diagnostic.help == "did you mean `head`?"
    _golden("E0305_misspelt_fresh", caught.value, bless)
    with pytest.raises(WeightsError, match="named `relu1`"):  # a layer without tensors cannot be fresh
        cnndsl.load_weights(model, ref.state_dict(), fresh=["relu1"])


def test_safetensors_pair_by_name(tmp_path: Path) -> None:
    ref, donor = reference(), tiny()
    cnndsl.load_weights(donor, ref.state_dict())
    save_file(donor.state_dict(), tmp_path / "tiny.safetensors")
    model = tiny()
    cnndsl.load_weights(model, tmp_path / "tiny.safetensors")
    assert same_outputs(model, ref)


def test_safetensors_with_foreign_names_are_refused_not_guessed(tmp_path: Path) -> None:
    save_file(reference().state_dict(), tmp_path / "ref.safetensors")
    with pytest.raises(WeightsError) as caught:
        cnndsl.load_weights(tiny(), tmp_path / "ref.safetensors")
    assert caught.value.diagnostic.code == "E0303"
    assert "keeps no order" in caught.value.diagnostic.message


def _golden(name: str, exc: WeightsError, bless: bool) -> None:
    rendered = plain(exc.diagnostics)
    expected = GOLDEN / f"{name}.stderr"
    if bless:
        expected.write_text(rendered, encoding="utf-8")
    assert rendered == expected.read_text(encoding="utf-8")
    assert rendered.rstrip() in (ROOT / "docs" / "errors.md").read_text(encoding="utf-8"), f"{name} is stale in errors.md"


def test_the_first_shape_that_differs_names_its_line_and_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             bless: bool) -> None:
    monkeypatch.chdir(tmp_path)
    torch.save(reference(classes=5).state_dict(), "five_classes.pth")
    model = tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(WeightsError) as caught:
        cnndsl.load_weights(model, "five_classes.pth")
    assert caught.value.diagnostic.code == "E0302"
    assert caught.value.diagnostic.span is not None and caught.value.diagnostic.span.line == 7
    assert str(caught.value).startswith("tiny.net:7:11: E0302: weights do not fit")
    _golden("E0302_classes", caught.value, bless)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "a refused load changed the model"


def test_a_count_that_differs_names_the_first_tensor_without_a_counterpart(bless: bool) -> None:
    state = reference().state_dict()
    del state["fc.bias"]
    with pytest.raises(WeightsError) as caught:
        cnndsl.load_weights(tiny(), state)
    assert caught.value.diagnostic.code == "E0303"
    _golden("E0303_missing_bias", caught.value, bless)
    state = dict(reference().state_dict(), **{"extra.weight": torch.zeros(2)})
    with pytest.raises(WeightsError, match="the network has 8 tensors, the state dict 9"):
        cnndsl.load_weights(tiny(), state)


class Exploit:
    """Pickled with a `__reduce__` that would create a file on loading."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return os.system, (f"touch {self.target}",)


def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 bless: bool) -> None:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "pwned"
    torch.save({"conv.weight": torch.zeros(1), "payload": Exploit(target)}, "evil.pt")
    with pytest.raises(WeightsError) as caught:
        cnndsl.load_weights(tiny(), Path("evil.pt"))
    assert not target.exists()
    assert caught.value.diagnostic.code == "E0304"
    _golden("E0304_evil", caught.value, bless)


def test_corrupt_files_are_errors_not_tracebacks(tmp_path: Path) -> None:
    ref = reference()
    torch.save(ref.state_dict(), tmp_path / "whole.pt")
    save_file(ref.state_dict(), tmp_path / "whole.safetensors")
    header = b'{"a":{"dtype":"F32","shape":[1000000000],"data_offsets":[0,4000000000]}}'
    cases = {
        "cut.pt": (tmp_path / "whole.pt").read_bytes()[:300],
        "cut.safetensors": (tmp_path / "whole.safetensors").read_bytes()[:-7],
        "lying.safetensors": struct.pack("<Q", len(header)) + header,
        "huge_header.safetensors": struct.pack("<Q", 2**62) + b"{}",
        "empty.pt": b"",
        "text.pt": b"not weights at all\n",
        "list.pt": None,
        "numbers.pt": None,
    }
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    torch.save({"a": 1}, tmp_path / "numbers.pt")
    for name, data in cases.items():
        if data is not None:
            (tmp_path / name).write_bytes(data)
        with pytest.raises(WeightsError) as caught:
            cnndsl.load_weights(tiny(), tmp_path / name)
        assert caught.value.diagnostic.code == "E0304", name
    with pytest.raises(WeightsError, match="no such file"):
        cnndsl.load_weights(tiny(), tmp_path / "absent.pt")
    with pytest.raises(TypeError, match="not a list"):
        cnndsl.load_weights(tiny(), [torch.zeros(1)])  # type: ignore[arg-type]
