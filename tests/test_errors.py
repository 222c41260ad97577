"""`cnndsl.Error`: one exception to catch for everything cnndsl rejects, with a stable code,
the source span where there is one, a help line and the command line's exit code."""

from __future__ import annotations

import pytest

import cnndsl
from cnndsl.backends.export_checks import ExportError, refuse_names
from cnndsl.compiler import CompileError
from cnndsl.train.commands.launch import WorkerFailed, failure_record
from cnndsl.train.errors import Interrupted, TrainError, UsageError
from cnndsl.train.loop.settings import resolve
from cnndsl.settings_schema import SETTING_NAMES

NO_FLAGS = {name: None for name in SETTING_NAMES}


def test_every_family_is_a_cnndsl_error() -> None:
    for family in (CompileError, ExportError, TrainError, UsageError, Interrupted, WorkerFailed):
        assert issubclass(family, cnndsl.Error), family
    assert "Error" in cnndsl.__all__


def test_a_rejected_file_carries_the_first_error_s_code_span_and_help() -> None:
    source = "network Bad {\n    input 1x4x4\n    conv(2, 9)\n}\n"
    with pytest.raises(cnndsl.Error) as caught:
        cnndsl.summary(source)
    error = caught.value
    assert isinstance(error, CompileError) and error.exit_code == 1
    first = next(d for d in error.diagnostics if d.is_error)
    assert (error.code, error.span, error.message, error.help) == (first.code, first.span, first.message, first.help)
    assert error.code == "E0102" and error.span is not None and error.span.line == 3
    assert str(error) == f"{error.span}: {error.code}: {error.message}" + (f"\nhelp: {error.help}" if error.help else "")


def test_asking_one_network_of_several_is_a_compile_error_with_a_code() -> None:
    report = cnndsl.check("network A { input 4 linear(2) }\nnetwork B { input 4 linear(3) }\n", every=True)
    assert report.ok
    with pytest.raises(cnndsl.Error) as caught:
        report.network()
    assert caught.value.code == "E0022" and caught.value.span is None and caught.value.help


def test_an_export_refusal_names_the_layer_s_span() -> None:
    net = cnndsl.check("network T {\n    input 4\n    stop: linear(3)\n}\n").network()
    with pytest.raises(cnndsl.Error) as caught:
        refuse_names(net, "a format", lambda name, top: "a reserved word" if name == "stop" else None)
    assert isinstance(caught.value, ExportError) and caught.value.code == "X0001"
    assert caught.value.span is not None and caught.value.span.line == 3
    assert "`stop`" in caught.value.message and caught.value.exit_code == 1


def test_training_errors_have_their_codes_and_exit_codes() -> None:
    with pytest.raises(cnndsl.Error) as caught:
        resolve({"data": "digits"}, {**NO_FLAGS, "epochs": 0}, "here")
    assert type(caught.value) is TrainError
    assert (caught.value.code, caught.value.exit_code, caught.value.span) == ("T0001", 1, None)
    assert caught.value.message == "--epochs: `epochs` must be at least 1, not 0"
    with pytest.raises(cnndsl.Error) as caught:
        resolve({"data": "mnsit"}, NO_FLAGS, "the train section of Net")
    assert type(caught.value) is UsageError and (caught.value.code, caught.value.exit_code) == ("T0002", 2)
    assert caught.value.help is not None and "did you mean `mnist`?" in caught.value.help
    assert (Interrupted("stopped", None).code, Interrupted("stopped", None).exit_code) == ("T0003", 130)


def test_a_worker_s_error_keeps_its_code_through_the_launcher() -> None:
    record = failure_record(UsageError("unknown data set `x`"), rank=1)["cnndsl"]
    assert record["code"] == "T0002" and record["exit_code"] == 2
    passed_on = WorkerFailed(record["message"], record["help"], record["exit_code"], record["code"])
    assert (passed_on.code, passed_on.exit_code) == ("T0002", 2)
    assert WorkerFailed("worker 1 of 2 was stopped by SIGKILL").code == "T0004"
