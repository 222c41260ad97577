"""`check` and `summary` through Typer's runner and through real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli_runner import invoke

ARCHITECTURES = Path(__file__).resolve().parent.parent / "architectures"

LENET = ARCHITECTURES / "lenet5.net"
GOLDEN = Path(__file__).parent / "golden"


def run(*args: str):
    return invoke(args)


def test_check_ok_exits_0() -> None:
    result = run("check", str(LENET))
    assert result.exit_code == 0, result.output
    assert "LeNet5: 1x32x32 -> 10" in result.output


def test_check_rejected_exits_1_with_diagnostic() -> None:
    result = run("check", str(GOLDEN / "E0104_missing_flatten.net"))
    assert result.exit_code == 1
    assert "error[E0104]" in result.output
    assert "E0104_missing_flatten.net:10:5" in result.output


def test_warnings_pass_unless_strict() -> None:
    path = str(GOLDEN / "W0204_bias_before_batchnorm.net")
    assert run("check", path).exit_code == 0
    strict = run("check", path, "--strict")
    assert strict.exit_code == 1
    assert "error[W0204]" in strict.output


def test_check_json_contract() -> None:
    result = run("check", str(GOLDEN / "E0101_assertion.net"), "--format", "json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["ok"] is False
    first = payload["diagnostics"][0]
    assert set(first) >= {"severity", "code", "message", "file", "line", "column", "end_line", "end_column", "help"}
    assert (first["code"], first["line"], first["column"]) == ("E0101", 7, 26)
    assert payload["networks"] == []


def test_check_json_lists_every_label(tmp_path: Path) -> None:
    """The text draws eight labels of a diagnostic; JSON lists them all, with the primary's."""
    path = tmp_path / "add.net"
    path.write_text("network A {\n    input 4\n    add {" + " ".join(f"branch {{ linear({5 + n % 2}) }}"
                                                              for n in range(12)) + "}\n}\n")
    first = json.loads(run("check", str(path), "--format", "json").stdout)["diagnostics"][0]
    assert first["code"] == "E0109" and first["label"] == "cannot add these"
    assert [label["message"] for label in first["labels"]] == ["gives 5", "gives 6"] * 6
    assert first["labels"][1]["file"] == str(path) and first["labels"][1]["line"] == 3


def test_check_json_lists_networks() -> None:
    payload = json.loads(run("check", str(LENET), "--format", "json").stdout)
    assert payload == {"ok": True, "diagnostics": [],
                       "networks": [{"name": "LeNet5", "input": [1, 32, 32], "output": [10]}], "suppressed": 0}


def test_check_several_files_fails_if_one_fails() -> None:
    result = run("check", str(LENET), str(GOLDEN / "E0010_unknown_layer.net"))
    assert result.exit_code == 1
    assert "ok" in result.output and "rejected" in result.output


def test_missing_file_is_usage_error() -> None:
    result = run("check", "no/such/file.net")
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_unknown_flag_is_usage_error() -> None:
    assert run("check", str(LENET), "--frobnicate").exit_code == 2


def test_bad_set_is_usage_error() -> None:
    assert run("summary", str(LENET), "--set", "classes").exit_code == 2


def test_set_overrides_parameter() -> None:
    payload = json.loads(run("summary", str(LENET), "--set", "classes=5", "-f", "json").stdout)
    assert payload["output"] == [5]
    assert payload["layers"][-1]["params"] == 84 * 5 + 5


def test_set_unknown_parameter_rejected() -> None:
    result = run("summary", str(LENET), "--set", "clases=5")
    assert result.exit_code == 1
    assert "E0025" in result.output and "did you mean `classes`" in result.output


def test_summary_json_contract() -> None:
    result = run("summary", str(LENET), "--format", "json")
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert payload["network"] == "LeNet5"
    assert (payload["input"], payload["output"]) == ([1, 32, 32], [10])
    assert payload["total_params"] == payload["trainable_params"] == 61706
    assert payload["macs"] == 416520
    first = payload["layers"][0]
    assert first["layer"] == "conv" and first["output_shape"] == [6, 28, 28]
    assert (first["params"], first["macs"]) == (156, 117600)
    assert sum(layer["params"] for layer in payload["layers"]) == 61706


def test_summary_text_table() -> None:
    result = run("summary", str(LENET))
    assert result.exit_code == 0
    assert "61,706" in result.output and "416,520" in result.output and "16x5x5" in result.output


def test_summary_of_rejected_file_exits_1() -> None:
    assert run("summary", str(GOLDEN / "E0101_assertion.net")).exit_code == 1


def test_network_selection(tmp_path: Path) -> None:
    two = tmp_path / "two.net"
    two.write_text("network A { input 4 linear(2) }\nnetwork B { input 8 linear(3) }\n")
    assert run("summary", str(two)).exit_code == 1
    payload = json.loads(run("summary", str(two), "--network", "B", "-f", "json").stdout)
    assert payload["output"] == [3]
    assert run("summary", str(two), "--network", "C").exit_code == 1
    assert run("check", str(two)).exit_code == 0  # check takes every network


def test_static_commands_never_import_torch(tmp_path: Path) -> None:
    """`check` and `summary` run in a fresh interpreter without loading torch."""
    probe = (
        "import sys\n"
        "from cnndsl.cli import app\n"
        "for args in (['check', %r], ['summary', %r, '-f', 'json']):\n"
        "    try:\n"
        "        app(args)\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code == 0, exit.code\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print('no torch')\n" % (str(LENET), str(LENET)))
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "no torch" in result.stdout


@pytest.mark.parametrize("args, code", [
    (["check", str(LENET)], 0),
    (["check", str(GOLDEN / "E0102_window_too_large.net")], 1),
    (["summary", "missing.net"], 2),
])
def test_console_script_exit_codes(args: list[str], code: int) -> None:
    result = subprocess.run([sys.executable, "-m", "cnndsl", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr


def test_version_is_the_package_s() -> None:
    from importlib.metadata import version

    import cnndsl

    result = run("--version")
    assert result.exit_code == 0 and result.output == f"cnndsl {cnndsl.__version__}\n"
    assert version("cnndsl") == cnndsl.__version__  # pyproject.toml reads it from the package


def test_help_lists_every_command_in_order() -> None:
    result = run("--help")
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == ["check", "summary", "export", "train", "eval", "predict", "graph", "fmt", "lsp"]


def _summary_process(path: Path, **env: str) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "cnndsl", "summary", str(path)], capture_output=True,
                          timeout=120, env={**os.environ, **env})


def test_summary_draws_its_table_in_ascii_where_the_output_cannot_take_unicode(tmp_path: Path) -> None:
    net = tmp_path / "lenet5.net"
    net.write_text((Path(__file__).parent.parent / "architectures" / "lenet5.net").read_text())
    done = _summary_process(net, PYTHONIOENCODING="ascii")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode("ascii").splitlines()
    assert lines[1].startswith(" layer    | kind") and set(lines[2]) <= {"-", "+"}
    assert " conv1    | conv    |   14 |  6x28x28 |    156 | 117,600 " in lines


def test_a_huge_label_runs_past_its_column_instead_of_widening_every_row(tmp_path: Path) -> None:
    """The output of summary stays proportional to its cells: one 100,000-character label
    does not pad the other thousand rows to its width."""
    net = tmp_path / "big.net"
    net.write_text("network Big {\n    input 1x8x8\n    " + "a" * 100_000 + ": conv(4, 3)\n"
                   + "    sigmoid\n    relu\n" * 500 + "}\n")
    done = _summary_process(net)
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert "a" * 100_000 in out and len(out) < 200_000
    assert max(len(line) for line in out.splitlines() if "a" * 100 not in line) < 120


@pytest.mark.skipif(__import__("os").geteuid() == 0 and __import__("shutil").which("setpriv") is None,
                    reason="root reads any file; setpriv is needed to run as another user")
def test_an_unreadable_file_is_a_diagnostic_with_exit_1() -> None:
    """Not Click's usage error (exit 2): the reader says why, as for a `use`d file. The file
    sits in a folder the other user can enter (pytest's own folders are private to root)."""
    import os
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="cnndsl-unreadable-"))
    folder.chmod(0o755)
    net = folder / "locked.net"
    try:
        net.write_text("network A { input 4 linear(2) }\n")
        net.chmod(0)
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
        for command in ("check", "summary"):
            done = subprocess.run([*prefix, sys.executable, "-m", "cnndsl", command, str(net)], capture_output=True,
                                  text=True, timeout=120, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
            assert done.returncode == 1 and "error[E0003]: cannot read file" in done.stdout + done.stderr, done
    finally:
        net.unlink(missing_ok=True)
        folder.rmdir()
