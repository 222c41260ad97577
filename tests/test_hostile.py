"""The hostile corpus (tests/hostile/), run in real processes: each case ends with its exit
code and message, never a traceback, a hang, unbounded memory or unbounded output.

One driver process forks a child per case (see tests/hostile/driver.py), so the whole corpus
costs one interpreter start. The bounds are generous detectors, not speed tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HOSTILE = Path(__file__).resolve().parent / "hostile"
sys.path.insert(0, str(HOSTILE))

from cases import CASES, Case, build  # noqa: E402

MAX_RSS_MB = 400          # `check` of the largest file the limits allow stays far below this
MAX_OUTPUT_BYTES = 100_000


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    workspace = tmp_path_factory.mktemp("hostile")
    build(workspace)
    run = subprocess.run([sys.executable, str(HOSTILE / "driver.py"), str(workspace)], capture_output=True,
                         text=True, timeout=3600)
    assert run.returncode == 0, run.stderr
    return {r["name"]: r for r in map(json.loads, run.stdout.splitlines())}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_case(case: Case, results: dict[str, dict]) -> None:
    result = results[case.name]
    command = "cnndsl " + " ".join(a if len(a) < 60 else a[:57] + "..." for a in case.argv)
    output = result["stdout"] + result["stderr"]
    assert not result["hung"], f"`{command}` hung ({result['seconds']} s)"
    assert "Traceback" not in result["stderr_head"] + output, f"`{command}` gave a traceback:\n{result['stderr_head']}"
    assert "internal error" not in output, f"`{command}`: {output}"
    assert result["exit"] == case.exit, f"`{command}` exited {result['exit']}, not {case.exit}:\n{output}"
    for text in case.says:
        assert text in output, f"`{command}` did not say {text!r}:\n{output}"
    assert result["max_rss_mb"] < MAX_RSS_MB, f"`{command}` took {result['max_rss_mb']} MB"
    assert result["output_bytes"] < MAX_OUTPUT_BYTES, f"`{command}` printed {result['output_bytes']:,} bytes"


def test_every_corpus_file_is_used() -> None:
    named = {arg for case in CASES for arg in case.argv}
    unused = [p.name for p in HOSTILE.glob("*.net") if p.name not in named]
    assert not unused, f"corpus files no case runs: {unused}"
