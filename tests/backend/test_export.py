"""`cnndsl export --to python`: a standalone file whose module is the compiled module."""

from __future__ import annotations

import ast
import dataclasses
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, strategies as st

import cnndsl
from cnndsl.backends.literal import literal
from cnndsl.backends.python_source import python_source
from cnndsl.backends.torch_module import build
from cli_runner import invoke
from cnndsl.compiler import CompileError

from .test_torch_module import SOURCE as TREE

ROOT = Path(__file__).resolve().parents[2]
NET_FILES = sorted((ROOT / "architectures").glob("*.net")) + sorted((ROOT / "architectures" / "zoo").glob("*.net")) + \
    [ROOT / "tests" / "backend" / "v2_units.net"]  # every construct and layer of language version 2
NETWORKS = [(path, net.name) for path in NET_FILES for net in cnndsl.check(path, every=True).networks]
LARGE = 30_000_000  # the zoo's models above this many parameters are exported in the slow run only


def _case(path: Path, name: str) -> object:
    large = path.parent.name == "zoo" and cnndsl.summary(path, name)["total_params"] > LARGE
    return pytest.param(path, name, id=f"{path.stem}:{name}", marks=[pytest.mark.slow] if large else [])
LENET = ROOT / "architectures" / "lenet5.net"

def _load(source: str, class_name: str) -> torch.nn.Module:
    namespace: dict = {"__name__": "exported"}
    exec(compile(source, "<exported>", "exec"), namespace)
    return namespace[class_name]()


def _assert_same_module(net: cnndsl.ir.Network, source: str, class_name: str) -> None:
    torch.manual_seed(0)
    compiled = build(net).eval()
    exported = _load(source, class_name).eval()
    ours, theirs = compiled.state_dict(), exported.state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[key].shape == theirs[key].shape for key in ours)
    assert str(compiled).splitlines()[2:] == str(exported).splitlines()[1:]  # same modules, same options
    exported.load_state_dict(ours)
    x = torch.randn(1, *net.input_shape)
    with torch.no_grad():
        torch.testing.assert_close(exported(x), compiled(x), rtol=0, atol=0)


@pytest.mark.parametrize(("path", "name"), [_case(path, name) for path, name in NETWORKS])
def test_exported_module_is_the_compiled_module(path: Path, name: str) -> None:
    net = cnndsl.check(path, network=name).network()
    _assert_same_module(net, python_source(net, path.name), name)


def test_containers_labels_and_in_place_survive_export() -> None:
    net = cnndsl.check(TREE.replace("head: linear", "lambda: linear")).network()
    source = python_source(net, "tree.net")
    _assert_same_module(net, source, "Tree")
    assert 'setattr(self, "lambda", nn.Linear(5, 5))' in source


def test_the_file_imports_nothing_but_torch() -> None:
    tree = ast.parse(python_source(cnndsl.check(TREE).network(), "tree.net"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"__future__", "collections", "torch"}


def test_the_file_runs_where_cnndsl_cannot_be_imported(tmp_path: Path) -> None:
    target = tmp_path / "tree.py"
    target.write_text(python_source(cnndsl.check(TREE).network(), "tree.net"))
    blocked = f"import sys, runpy; sys.modules['cnndsl'] = None; runpy.run_path({str(target)!r}, run_name='__main__')"
    result = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "torch.Size([1, 5])"


def test_shapes_and_source_lines_are_in_comments() -> None:
    source = python_source(cnndsl.check(LENET).network(), "lenet5.net")
    assert "self.conv1 = nn.Conv2d(1, 6, kernel_size=5)  # 6x28x28, line 14" in source
    assert "x = self.flatten1(x)  # 400" in source
    assert '"""LeNet5, exported by cnndsl from "lenet5.net" with classes=10.' in source


@pytest.mark.parametrize("name", ["Residual", "super", "print"])
def test_a_class_name_python_or_the_file_claims_is_suffixed(name: str) -> None:
    net = cnndsl.check(f"network {name} {{ input 4; residual {{ linear(4) }} }}").network()
    source = python_source(net, "r.net")
    assert f"class {name}Network(nn.Module):" in source
    _assert_same_module(net, source, f"{name}Network")


def test_any_file_name_makes_a_valid_docstring() -> None:
    origin = 'odd """name\\N{x}\n.net'
    namespace: dict = {}
    exec(compile(python_source(cnndsl.check(LENET).network(), origin), "<exported>", "exec"), namespace)
    assert origin in namespace["__doc__"]


# A name that would run code if a generated file carried it unescaped: it ends a comment,
# a string or a docstring (with every kind of line break and quote), then writes a marker
# file. The tests check that the marker is never written.
HOSTILE = 'x\n"""\'\'\'\\\nopen("PWNED", "w")\r\n#\u2028\x0cy'


def test_labels_and_names_full_of_quotes_and_newlines_stay_data(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    net = cnndsl.check("network T {\n    input 4\n    fc: linear(3)\n}\n").network()
    hostile = dataclasses.replace(net, body=(dataclasses.replace(net.body[0], name=HOSTILE),))
    source = python_source(hostile, HOSTILE)
    namespace: dict = {}
    monkeypatch.chdir(tmp_path)
    exec(compile(source, "<exported>", "exec"), namespace)
    assert not (tmp_path / "PWNED").exists()
    assert HOSTILE in namespace["__doc__"]
    model = namespace["T"]()
    assert list(dict(model.named_children())) == [HOSTILE]


def test_paths_of_used_files_cannot_inject_code(tmp_path: Path) -> None:
    """A `use`d file in a folder whose name holds code: the exported file, imported in a
    fresh interpreter, builds the model and runs nothing else."""
    folder = tmp_path / HOSTILE
    folder.mkdir()
    (folder / "blocks.net").write_text("block B { relu }\n")
    (tmp_path / "lib").symlink_to(folder)
    main = tmp_path / "main.net"
    main.write_text('use "lib/blocks.net"\nnetwork A { input 4 B linear(2) }\n')
    target = tmp_path / "exported.py"
    done = subprocess.run([sys.executable, "-m", "cnndsl", "export", str(main), "-o", str(target)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    source = target.read_text(encoding="utf-8")
    assert 'open("PWNED"' not in source.split("#")[0]
    check = "import exported, torch; print(exported.A()(torch.zeros(1, 4)).shape)"
    ran = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "torch.Size([1, 2])"
    assert not (tmp_path / "PWNED").exists()


# ---- the command ---------------------------------------------------------------------

def export(*args: str):
    return invoke(["export", *args])


def test_without_output_the_source_goes_to_stdout(tmp_path: Path) -> None:
    result = export(str(LENET), "--to", "python", "--set", "classes=3")
    assert result.exit_code == 0, result.output
    assert "class LeNet5(nn.Module):" in result.stdout and "nn.Linear(84, 3)" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_output_file_is_written_and_replaced_atomically(tmp_path: Path) -> None:
    target = tmp_path / "lenet.py"
    target.write_text("old\n")
    target.chmod(0o640)
    result = export(str(LENET), "-o", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_text().startswith('"""LeNet5')
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["lenet.py"]


def test_a_failed_write_leaves_the_old_file_and_no_debris(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "lenet.py"
    target.write_text("old\n")

    def refuse(source: str, destination: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    result = export(str(LENET), "-o", str(target))
    assert result.exit_code == 1
    assert result.output.endswith(f"error: cannot write {target}: Permission denied; {target} is unchanged\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["lenet.py"]


@pytest.mark.parametrize(("arguments", "message"), [
    (["missing.net"], "no such file"),
    ([str(LENET), "-o", "{tmp}"], "is a directory"),
    ([str(LENET), "-o", str(LENET)], "would overwrite the network file"),
    ([str(LENET), "-o", "{tmp}/no/such/dir/x.py"], "no directory"),
    ([str(LENET), "--set", "classes"], "--set expects NAME=VALUE"),
])
def test_usage_errors_exit_2(arguments: list[str], message: str, tmp_path: Path) -> None:
    result = export(*(a.replace("{tmp}", str(tmp_path)) for a in arguments))
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_rejected_network_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.net"
    bad.write_text("network Bad {\n    input 3x8x8\n    linear(10)\n}\n")
    result = export(str(bad), "-o", str(tmp_path / "bad.py"))
    assert result.exit_code == 1
    assert "E0104" in result.output
    assert not (tmp_path / "bad.py").exists()


def test_a_reserved_label_exits_1_with_its_diagnostic(tmp_path: Path) -> None:
    net = tmp_path / "reserved.net"
    net.write_text("network T {\n    input 4\n    forward: linear(3)\n}\n")
    result = export(str(net))
    assert result.exit_code == 1
    assert "E0029" in result.output and "reserved.net:3:" in result.output


def test_a_name_build_refuses_is_refused_by_export() -> None:
    net = cnndsl.check("network T {\n    input 4\n    fc: linear(3)\n}\n").network()
    renamed = dataclasses.replace(net, body=(dataclasses.replace(net.body[0], name="forward"),))
    with pytest.raises(CompileError, match="forward"):
        python_source(renamed, "t.net")


def test_network_and_strict_options(tmp_path: Path) -> None:
    two = tmp_path / "two.net"
    two.write_text("network A { input 4; linear(2) }\nnetwork B { input 4; relu; relu; linear(3) }\n")
    assert export(str(two)).exit_code == 1
    result = export(str(two), "--network", "B")
    assert result.exit_code == 0 and "class B(nn.Module):" in result.stdout
    assert export(str(two), "--network", "B", "--strict").exit_code == 1  # relu after relu warns


@given(st.text() | st.floats() | st.integers() | st.booleans()
       | st.tuples(st.integers(), st.floats(), st.text()))
def test_a_literal_is_one_line_and_means_its_value(value: object) -> None:
    source = literal(value)
    assert len(source.splitlines()) == 1 and source.isprintable()
    tree = ast.parse(f"# {source}\n'''{source}'''\nx = {source}\n")  # in a comment, a docstring, code
    assert len(tree.body) == 2
    got = eval(compile(ast.Expression(tree.body[1].value), "<literal>", "eval"), {})  # noqa: S307
    assert got == value or (got != got and value != value) or repr(got) == repr(value)


def test_a_used_file_is_not_overwritten_by_o(tmp_path: Path) -> None:
    (tmp_path / "blocks.net").write_text("block B(c) {\n    conv(c, 3)\n}\n")
    main = tmp_path / "u.net"
    main.write_text('use "blocks.net"\nnetwork U {\n    input 1x8x8\n    B(4)\n    flatten\n    linear(2)\n}\n')
    result = export(str(main), "-o", str(tmp_path / "blocks.net"))
    assert result.exit_code == 2 and f"would overwrite {tmp_path / 'blocks.net'}, which the network uses" in result.output
    assert (tmp_path / "blocks.net").read_text().startswith("block B(c)")
