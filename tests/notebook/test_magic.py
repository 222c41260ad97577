"""`%load_ext cnndsl` and the `%%cnndsl` cell magic, in an IPython shell in this process
(the notebooks in test_notebooks.py run the same in a real kernel)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

pytest.importorskip("IPython")

from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from IPython.utils.capture import CapturedIO, capture_output  # noqa: E402

import cnndsl  # noqa: E402

GOOD = """\
network Small(classes = 10) {
    input 1x8x8
    conv(4, 3) relu
    flatten
    linear(classes)
}
"""
BAD = GOOD.replace("    flatten\n", "")


@pytest.fixture(scope="module")
def shell() -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "cnndsl")
    yield shell
    InteractiveShell.clear_instance()


def run(shell: InteractiveShell, cell: str) -> CapturedIO:
    with capture_output() as captured:
        result = shell.run_cell(cell, store_history=True)
    assert result.success, result.error_in_exec or result.error_before_exec
    return captured


def outputs(captured: CapturedIO, mime: str) -> list[str]:
    return [output.data[mime] for output in captured.outputs if mime in output.data]


def test_an_accepted_cell_shows_summary_and_diagram_and_binds_the_network(shell: InteractiveShell) -> None:
    shell.user_ns.pop("Small", None)
    captured = run(shell, f"%%cnndsl --set classes=3\n{GOOD}")
    html = outputs(captured, "text/html")
    assert len(html) == 1 and "<table>" in html[0] and "4x6x6" in html[0]
    assert "Small  1x8x8 -> 3" in outputs(captured, "text/plain")[0]
    svg = outputs(captured, "image/svg+xml")
    assert len(svg) == 1 and "<svg" in svg[0]
    net = shell.user_ns["Small"]
    assert isinstance(net, cnndsl.Network) and net.output_shape == (3,)
    assert cnndsl.summary(net)["output"] == [3]


def test_a_rejected_cell_points_at_the_line_in_the_cell(shell: InteractiveShell) -> None:
    run(shell, f"%%cnndsl\n{GOOD}")
    captured = run(shell, f"%%cnndsl\n{BAD}")
    number = shell.execution_count - 1  # the cell that just ran
    text = outputs(captured, "text/plain")[0]
    # line 5 of the cell as the notebook numbers it, the %%cnndsl line being line 1
    assert "error[E0104]" in text and f"--> In[{number}]:5:5" in text
    assert "5 |     linear(classes)" in text and "= help: insert `flatten` before line 5" in text
    html = outputs(captured, "text/html")[0]
    assert "error[E0104]" in html and f"In[{number}]:5:5" in html and "^^^" in html
    assert not outputs(captured, "image/svg+xml")
    # the network of the earlier, good version of the cell is no longer bound
    assert "Small" not in shell.user_ns and "not bound: Small" in captured.stdout


def test_warnings_are_shown_above_an_accepted_cell(shell: InteractiveShell) -> None:
    captured = run(shell, "%%cnndsl\nnetwork W {\n    input 1x8x8\n    conv(4, 3) relu relu\n    flatten\n"
                          "    linear(2)\n}\n")
    texts = outputs(captured, "text/plain")
    assert "warning[" in texts[0] and texts[0].rstrip().endswith("(1 warning)")
    assert shell.user_ns["W"].warnings and "<table>" in outputs(captured, "text/html")[1]


def test_options_pick_a_network_and_refuse_bad_values(shell: InteractiveShell) -> None:
    two = "network A { input 4 linear(2) }\nnetwork B { input 8 linear(3) }\n"
    shell.user_ns.pop("A", None)
    run(shell, f"%%cnndsl --network B\n{two}")
    assert shell.user_ns["B"].output_shape == (3,) and "A" not in shell.user_ns
    run(shell, f"%%cnndsl\n{two}")
    assert shell.user_ns["A"].output_shape == (2,)
    with capture_output() as captured:
        shell.run_cell(f"%%cnndsl --set classes\n{GOOD}")
    assert "--set expects NAME=VALUE, got `classes`" in captured.stderr + captured.stdout
    captured = run(shell, f"%%cnndsl --strict\nnetwork W {{ input 8 relu relu linear(2) }}\n")
    assert "error[" in outputs(captured, "text/plain")[0]


def test_use_in_a_cell_starts_from_the_working_directory(shell: InteractiveShell, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocks.net").write_text("block Pair(c) { conv(c, 3, padding = 1) relu }\n")
    monkeypatch.chdir(tmp_path)
    run(shell, '%%cnndsl\nuse "lib/blocks.net"\nnetwork U { input 1x8x8 Pair(4) flatten linear(2) }\n')
    assert shell.user_ns["U"].output_shape == (2,)
    captured = run(shell, '%%cnndsl\nuse "nowhere.net"\nnetwork U { input 8 linear(2) }\n')
    assert "cannot find `nowhere.net`" in outputs(captured, "text/plain")[0]


def test_hostile_cells_and_options_get_messages_not_tracebacks(shell: InteractiveShell) -> None:
    with capture_output() as captured:
        result = shell.run_cell(f'%%cnndsl --set "classes=3\n{GOOD}')
    assert "cannot read the options" in captured.stderr + captured.stdout and "Traceback" not in captured.stdout
    assert result.error_in_exec is None or "UsageError" in type(result.error_in_exec).__name__
    captured = run(shell, "%%cnndsl\n# \ud800\nnetwork A { input 4 linear(2) }\n")
    number = shell.execution_count - 1  # the cell that just ran
    assert "error[E0003]" in outputs(captured, "text/plain")[0]
    assert f"rejected In[{number}]" in outputs(captured, "text/plain")[0]  # the cell, though it has no text
    run(shell, "%%cnndsl\nnetwork Twice { input 4 linear(2) }\n")
    captured = run(shell, "%%cnndsl\nnetwork Twice { input 4 }\nnetwork Twice { input 4 }\n")  # rejected
    assert "Twice" not in shell.user_ns and "not bound: Twice (" in captured.stdout
    builtins = shell.user_ns["__builtins__"]
    captured = run(shell, "%%cnndsl\nnetwork __builtins__ { input 4 linear(2) }\n")
    assert shell.user_ns["__builtins__"] is builtins and "not bound: __builtins__" in captured.stdout
    assert run(shell, "print(len('still working'))").stdout.splitlines()[-1] == "13"  # IPython's history may complain first


def test_a_quoted_set_is_read_as_a_shell_would(shell: InteractiveShell) -> None:
    shell.user_ns.pop("Small", None)
    run(shell, f'%%cnndsl --set "classes=3"\n{GOOD}')
    assert shell.user_ns["Small"].output_shape == (3,)
    run(shell, f"%%cnndsl --set 'classes=4'\n{GOOD}")
    assert shell.user_ns["Small"].output_shape == (4,)
