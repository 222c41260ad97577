"""`cnndsl export --to onnx|torchscript`: model files that load without cnndsl and compute
what the compiled module computes in eval mode, for any batch size.

Tolerances, absolute (rtol=0): ONNX Runtime runs its own kernels, so its outputs may
differ from PyTorch's by 1e-4 (the largest difference measured on the architectures
below is below 1e-6); a TorchScript archive runs PyTorch's kernels, so 1e-5 (measured: 0).
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Callable

import pytest
import torch

import cnndsl
from cnndsl.backends import onnx_export
from cnndsl.backends.export_checks import ExportError
from cnndsl.backends.onnx_export import onnx_bytes
from cnndsl.backends.torch_module import evaluating
from cnndsl.backends.torchscript_export import torchscript_bytes
from cli_runner import invoke

from .test_torch_module import SOURCE as TREE

ROOT = Path(__file__).resolve().parents[2]
LENET = ROOT / "architectures" / "lenet5.net"
# The architectures small enough to export and run twice in a quick test: all but the
# full-size AlexNet and VGG-16, whose hundreds of megabytes of weights cost seconds each.
QUICK_PARAMS = 20_000_000
QUICK = [path for path in sorted((ROOT / "architectures").glob("*.net"))
         if cnndsl.summary(path)["total_params"] <= QUICK_PARAMS]
# ... and a small network with every container (no architecture has an `add`) and in-place sums,
# and one with the constructs and layers of language version 2.
V2_UNITS = ROOT / "tests" / "backend" / "v2_units.net"
NETWORKS = [(path.stem, path) for path in QUICK] + [("tree", TREE), ("v2_units", V2_UNITS)]
ONNX_TOLERANCE = 1e-4
TORCHSCRIPT_TOLERANCE = 1e-5
# PyTorch deprecates TorchScript; loading an archive in a test is what a user does.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")


@pytest.fixture
def ort() -> ModuleType:
    """onnxruntime, with the packages the exporter needs; the test is skipped only where
    they are not installed (the `test` extra installs them)."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    return pytest.importorskip("onnxruntime")


def _onnx_runner(ort: ModuleType, model: bytes | Path) -> Callable[[torch.Tensor], torch.Tensor]:
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads leave the CPU to torch
    session = ort.InferenceSession(model if isinstance(model, bytes) else str(model), options,
                                   providers=["CPUExecutionProvider"])
    return lambda x: torch.from_numpy(session.run(["output"], {"input": x.numpy()})[0])


def _torchscript_runner(archive: bytes | Path) -> Callable[[torch.Tensor], torch.Tensor]:
    loaded = torch.jit.load(io.BytesIO(archive) if isinstance(archive, bytes) else str(archive))
    assert not loaded.training
    return loaded


def _assert_computes_like(run: Callable[[torch.Tensor], torch.Tensor], model: torch.nn.Module,
                          tolerance: float) -> None:
    """The same outputs as `model` in eval mode, for batches of 1 and 3 through one file."""
    model.eval()
    for batch in (1, 3):
        x = torch.randn(batch, *model.input_shape)
        with torch.no_grad():
            torch.testing.assert_close(run(x), model(x), rtol=0, atol=tolerance)


def test_the_quick_architectures_include_the_ones_the_issue_names() -> None:
    assert {"lenet5", "cifar_tutorial", "mnist_6conv", "alexnet_lite", "resnet18", "googlenet"} <= {
        path.stem for path in QUICK}


@pytest.mark.parametrize(("name", "source"), NETWORKS, ids=[name for name, _ in NETWORKS])
def test_onnx_computes_what_the_module_computes(name: str, source: Path | str, ort: ModuleType) -> None:
    model = cnndsl.compile(source)
    data = onnx_bytes(model)
    assert model.training  # exported in eval mode, handed back as it came
    _assert_computes_like(_onnx_runner(ort, data), model, ONNX_TOLERANCE)


@pytest.mark.parametrize(("name", "source"), NETWORKS, ids=[name for name, _ in NETWORKS])
def test_torchscript_computes_what_the_module_computes(name: str, source: Path | str) -> None:
    model = cnndsl.compile(source)
    data = torchscript_bytes(model)
    assert model.training
    _assert_computes_like(_torchscript_runner(data), model, TORCHSCRIPT_TOLERANCE)


@pytest.mark.parametrize("export_bytes", [onnx_bytes, torchscript_bytes], ids=["onnx", "torchscript"])
def test_an_export_leaves_every_layer_in_the_mode_it_was_in(export_bytes: Callable,
                                                            request: pytest.FixtureRequest) -> None:
    if export_bytes is onnx_bytes:
        request.getfixturevalue("ort")
    model = cnndsl.compile("network T { input 4; fc: linear(4); norm: batchnorm; dropout; linear(2) }")
    model.norm.eval()  # frozen statistics while the rest trains
    export_bytes(model)
    assert [module.training for module in model.modules()] == [True, True, False, True, True]


def test_evaluating_restores_the_modes_after_an_error() -> None:
    model = cnndsl.compile("network T { input 4; linear(2) }")
    with pytest.raises(RuntimeError), evaluating(model):
        assert not model.training
        raise RuntimeError
    assert model.training


def test_the_torchscript_module_keeps_the_network_attributes() -> None:
    loaded = _torchscript_runner(torchscript_bytes(cnndsl.compile(LENET)))
    assert (loaded.network_name, loaded.input_shape, loaded.output_shape) == ("LeNet5", (1, 32, 32), (10,))


# ---- adaptive max pooling: ONNX has it only where it is a plain max pooling ------------------

POOLED = "network T {{\n    input 2x{size}\n    conv(4, 3, padding=1)\n    pool: adaptivemaxpool(3)\n    flatten\n    linear(3)\n}}\n"


def test_adaptive_max_pooling_that_is_a_plain_max_pooling_exports(ort: ModuleType) -> None:
    model = cnndsl.compile(POOLED.format(size="6x9"))
    _assert_computes_like(_onnx_runner(ort, onnx_bytes(model)), model, ONNX_TOLERANCE)


def test_other_adaptive_max_pooling_is_refused_where_it_is_written(ort: ModuleType, tmp_path: Path) -> None:
    net = tmp_path / "pooled.net"
    net.write_text(POOLED.format(size="7x5"))
    result = export(str(net), "--to", "onnx", "-o", str(tmp_path / "pooled.onnx"))
    assert result.exit_code == 1
    assert f"`pool` ({net}:4) pools 7x5 to 3x3: ONNX has no adaptive max pooling" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "pooled.onnx").exists()
    assert export(str(net), "--to", "torchscript", "-o", str(tmp_path / "pooled.pt")).exit_code == 0


# ---- labels: each exporter writes module names into code of its own ------------------------

@pytest.mark.parametrize(("statement", "target", "refusal"), [
    ("def: linear(3)", "torchscript", "`def` ({file}:3) cannot name a module in TorchScript: TorchScript's code names "
                                      "every module, and this word is reserved there; choose another label, e.g. `def_`"),
    ("residual { None: linear(4) }", "torchscript", "`residual1.body.None` ({file}:3) cannot name a module in TorchScript"),
    ("lambda: linear(3)", "onnx", "`lambda` ({file}:3) cannot name a module in ONNX: it is a Python keyword"),
    ("graph: linear(3)", "onnx", "`graph` ({file}:3) cannot name a module in ONNX: PyTorch's exporter holds the "
                                 "network in a torch.fx.GraphModule, whose own `graph` would hide the module"),
    ("meta: linear(3)", "onnx", "`meta` ({file}:3) cannot name a module in ONNX"),
])
def test_a_label_the_format_cannot_carry_is_refused_where_it_is_written(
        statement: str, target: str, refusal: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if target == "onnx":
        request.getfixturevalue("ort")
    net = tmp_path / "labels.net"
    net.write_text(f"network T {{\n    input 4\n    {statement}\n}}\n")
    result = export(str(net), "--to", target, "-o", str(tmp_path / "labels.model"))
    assert result.exit_code == 1
    assert f"error: {refusal.format(file=net)}" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "labels.model").exists()


def test_the_graph_modules_names_are_free_below_the_top_level(ort: ModuleType) -> None:
    model = cnndsl.compile("network T { input 4; residual { graph: linear(4) } }")
    _assert_computes_like(_onnx_runner(ort, onnx_bytes(model)), model, ONNX_TOLERANCE)


# ---- the command ---------------------------------------------------------------------

def export(*args: str):
    return invoke(["export", *args])


def test_the_onnx_file_runs_and_names_its_input_and_output(tmp_path: Path, ort: ModuleType) -> None:
    import onnx

    target = tmp_path / "lenet5.onnx"
    torch.manual_seed(0)
    result = export(str(LENET), "--to", "onnx", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert f"wrote {target} (LeNet5, ONNX opset 18, any batch size)" in result.output
    proto = onnx.load(target)
    onnx.checker.check_model(proto)
    assert [(entry.domain, entry.version) for entry in proto.opset_import] == [("", 18)]

    def dimensions(value: onnx.ValueInfoProto) -> list:
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

    assert [(v.name, dimensions(v)) for v in proto.graph.input] == [("input", ["batch", 1, 32, 32])]
    assert [(v.name, dimensions(v)) for v in proto.graph.output] == [("output", ["batch", 10])]
    assert {p.key: p.value for p in proto.metadata_props} == {
        "cnndsl.network": "LeNet5", "cnndsl.input_shape": "1x32x32", "cnndsl.output_shape": "10"}
    torch.manual_seed(0)  # the same weights as the command's
    _assert_computes_like(_onnx_runner(ort, target), cnndsl.compile(LENET), ONNX_TOLERANCE)


def test_the_torchscript_file_loads_where_cnndsl_cannot_be_imported(tmp_path: Path) -> None:
    target = tmp_path / "lenet5.pt"
    torch.manual_seed(0)
    result = export(str(LENET), "--to", "torchscript", "-o", str(target), "--set", "classes=4")
    assert result.exit_code == 0, result.output
    assert f"wrote {target} (LeNet5, TorchScript, any batch size)" in result.output
    torch.manual_seed(0)
    _assert_computes_like(_torchscript_runner(target), cnndsl.compile(LENET, classes=4), TORCHSCRIPT_TOLERANCE)
    blocked = ("import sys, warnings, torch; sys.modules['cnndsl'] = None; warnings.simplefilter('ignore'); "
               f"model = torch.jit.load({str(target)!r}); print(tuple(model(torch.zeros(3, 1, 32, 32)).shape))")
    done = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(3, 4)"


@pytest.mark.parametrize(("target", "suffix"), [("onnx", ".onnx"), ("torchscript", ".pt")])
def test_binary_formats_need_an_output_file(target: str, suffix: str, tmp_path: Path) -> None:
    result = export(str(LENET), "--to", target)
    assert result.exit_code == 2
    assert f"--to {target} writes a binary file: give -o, e.g. -o lenet5{suffix}" in result.output
    assert result.stdout == ""
    directory = export(str(LENET), "--to", target, "-o", str(tmp_path))
    assert directory.exit_code == 2 and f"e.g. {tmp_path / ('lenet5' + suffix)}" in directory.output


def test_an_unknown_target_is_a_usage_error() -> None:
    result = export(str(LENET), "--to", "tflite", "-o", "lenet5.tflite")
    assert result.exit_code == 2 and "tflite" in result.output


def test_a_binary_file_is_replaced_atomically_keeping_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "lenet5.pt"
    target.write_bytes(b"old")
    target.chmod(0o640)
    assert export(str(LENET), "--to", "torchscript", "-o", str(target)).exit_code == 0
    assert target.read_bytes()[:2] == b"PK"  # a TorchScript archive is a zip file
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["lenet5.pt"]


def test_a_failed_binary_write_leaves_the_old_file_and_no_debris(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "lenet5.pt"
    target.write_bytes(b"old")

    def refuse(source: str, destination: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    result = export(str(LENET), "--to", "torchscript", "-o", str(target))
    assert result.exit_code == 1
    assert result.output.endswith(f"error: cannot write {target}: Permission denied; {target} is unchanged\n")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["lenet5.pt"]


@pytest.mark.parametrize("target", ["onnx", "torchscript"])
def test_a_rejected_network_exits_1_and_writes_nothing(target: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.net"
    bad.write_text("network Bad {\n    input 3x8x8\n    linear(10)\n}\n")
    result = export(str(bad), "--to", target, "-o", str(tmp_path / "bad.model"))
    assert result.exit_code == 1 and "E0104" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["bad.net"]


# ---- what stops an ONNX export: missing packages, an old PyTorch, the format's limits --------

@pytest.mark.parametrize("package", ["onnx", "onnxscript"])
def test_a_missing_package_says_which_extra_to_install(package: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, package, None)  # `import` raises ImportError, as when absent
    result = export(str(LENET), "--to", "onnx", "-o", str(tmp_path / "lenet5.onnx"))
    assert result.exit_code == 1
    assert f'error: ONNX export needs the `{package}` package: pip install "cnndsl[onnx]"' in result.output
    assert "Traceback" not in result.output and list(tmp_path.iterdir()) == []


def test_an_old_pytorch_is_refused_by_name(ort: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch, "__version__", "2.4.1+cpu")
    with pytest.raises(ExportError, match=r"needs PyTorch 2\.6 or newer, and this is 2\.4\.1\+cpu"):
        onnx_bytes(cnndsl.compile(LENET))


def test_weights_past_the_size_of_an_onnx_file_are_refused(ort: ModuleType, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_export, "MAX_BYTES", 100_000)  # LeNet-5 holds 246,824 bytes of weights
    result = export(str(LENET), "--to", "onnx", "-o", str(tmp_path / "lenet5.onnx"))
    assert result.exit_code == 1
    assert "LeNet5's weights take 0.0 GB and an ONNX file holds at most 2 GB; use --to torchscript" in result.output


def test_an_exporter_failure_is_reported_by_its_innermost_reason(ort: ModuleType, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        try:
            raise RuntimeError("No ONNX function found for aten.frobnicate\nmore detail")
        except RuntimeError as reason:
            raise torch.onnx.OnnxExporterError("Failed to convert the exported program. Next steps: ...") from reason

    monkeypatch.setattr(torch.onnx, "export", fail)
    result = export(str(LENET), "--to", "onnx", "-o", str(tmp_path / "lenet5.onnx"))
    assert result.exit_code == 1
    assert "error: PyTorch could not export LeNet5 to ONNX: No ONNX function found for aten.frobnicate" in result.output
    assert "more detail" not in result.output and "Traceback" not in result.output
