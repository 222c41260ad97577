"""Run every hostile case in its own forked process and report how each ended, one JSON
object a line: exit code, seconds, peak memory, output size and tails.

    python tests/hostile/driver.py WORKSPACE

Forking after cnndsl is imported makes each case a real process (its own exit code, stdin,
stdout and memory) for a few milliseconds instead of a fresh interpreter's start. A case
that runs past HANG_SECONDS is killed and reported as hung; its address space is capped, so
unbounded memory ends the case instead of the machine.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import CASES, Case  # noqa: E402

import cnndsl.cli  # noqa: E402,F401  (imported before forking: each case starts warm)

HANG_SECONDS = 120          # a hang detector, not a speed test
ADDRESS_SPACE = 4 << 30     # a runaway allocation fails here instead of exhausting the machine
TAIL = 2000


def _stdin(case: Case, workspace: Path) -> int:
    if case.stdin == "endless":  # `yes | cnndsl fmt -`
        read, write = os.pipe()
        if os.fork() == 0:
            os.close(read)
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            line = b"y\n" * 4096
            try:
                while True:
                    os.write(write, line)
            finally:
                os._exit(0)
        os.close(write)
        return read
    return os.open(workspace / case.stdin if case.stdin else os.devnull, os.O_RDONLY)


def run(case: Case, workspace: Path, out: Path) -> dict:
    stdout_path, stderr_path = out / f"{case.name}.out", out / f"{case.name}.err"
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        os.chdir(workspace)
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
        os.dup2(_stdin(case, workspace), 0)
        os.dup2(os.open(case.stdout or stdout_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
        os.dup2(os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
        sys.argv = ["cnndsl", *case.argv]
        for name, value in case.env.items():
            os.environ[name] = value
        code = 0
        try:
            cnndsl.cli.main()
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        except BaseException:  # an exception main() let through: the worst outcome, shown as such
            import traceback
            traceback.print_exc()
            code = 99
        os._exit(code)
    deadline = time.monotonic() + HANG_SECONDS
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            done, status, usage = os.wait4(pid, 0)
            break
        time.sleep(0.005)
    try:
        os.killpg(pid, signal.SIGKILL)  # the `yes` writer, if any
    except ProcessLookupError:
        pass
    seconds = time.perf_counter() - start
    stdout = stdout_path.read_bytes() if not case.stdout and stdout_path.exists() else b""
    stderr = stderr_path.read_bytes() if stderr_path.exists() else b""
    return {
        "name": case.name,
        "exit": os.waitstatus_to_exitcode(status),
        "hung": seconds > HANG_SECONDS,
        "seconds": round(seconds, 3),
        "max_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "output_bytes": len(stdout) + len(stderr),
        "stdout": stdout[-TAIL:].decode("utf-8", "replace"),
        "stderr": stderr[-TAIL:].decode("utf-8", "replace"),
        "stderr_head": stderr[:TAIL].decode("utf-8", "replace"),
    }


def main() -> None:
    workspace = Path(sys.argv[1]).resolve()
    out = workspace / "_output"
    out.mkdir(exist_ok=True)
    only = set(sys.argv[2:])
    for case in CASES:
        if not only or case.name in only:
            print(json.dumps(run(case, workspace, out)), flush=True)


if __name__ == "__main__":
    main()
