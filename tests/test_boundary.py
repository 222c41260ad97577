"""The error boundary around every command: cnndsl's own errors, the operating system's,
and bugs, each as the documented message and exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_runner import invoke
from cnndsl.cli import static
from cnndsl.train.errors import TrainError

LENET = Path(__file__).resolve().parent.parent / "architectures" / "lenet5.net"


def _raise(exc: BaseException):
    def broken(*args, **kwargs):
        raise exc
    return broken


def test_a_bug_is_one_internal_error_line_with_exit_3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(static, "check_path", _raise(ZeroDivisionError("boom")))
    result = invoke(["check", LENET], env={"CNNDSL_DEBUG": ""}, internal_error=True)
    assert result.exit_code == 3
    assert "internal error in `cnndsl check` (cnndsl " in result.output
    assert "ZeroDivisionError" in result.output and "report" in result.output
    assert "Traceback" not in result.output and "--debug" in result.output


@pytest.mark.parametrize("args, env", [(["--debug", "check"], {"CNNDSL_DEBUG": ""}),
                                       (["check"], {"CNNDSL_DEBUG": "1"})])
def test_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str]) -> None:
    monkeypatch.setattr(static, "check_path", _raise(ZeroDivisionError("boom")))
    result = invoke([*args, LENET], env=env, internal_error=True)
    assert result.exit_code == 3
    assert "Traceback (most recent call last)" in result.output and "ZeroDivisionError: boom" in result.output


def test_an_os_error_is_one_line_naming_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(static, "check_path", _raise(PermissionError(13, "Permission denied", "/x/[/]y.net")))
    result = invoke(["check", LENET], env={"CNNDSL_DEBUG": ""})
    assert result.exit_code == 1
    assert result.output.strip() == "error: /x/[/]y.net: Permission denied"


def test_a_cnndsl_error_is_its_message_and_exit_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(static, "check_path", _raise(TrainError("the [bold]run[/] is damaged", help="train again")))
    result = invoke(["check", LENET])
    assert result.exit_code == 1
    assert "error: the [bold]run[/] is damaged" in result.output and "help: train again" in result.output


def test_the_helper_fails_on_an_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(static, "check_path", _raise(ZeroDivisionError("boom")))
    with pytest.raises(AssertionError, match="exited 3"):
        invoke(["check", LENET])


def test_ctrl_c_outside_a_training_run_is_one_line_and_exit_130(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(static, "check_path", _raise(KeyboardInterrupt()))
    result = invoke(["check", LENET])
    assert result.exit_code == 130 and result.output.strip() == "error: interrupted"
