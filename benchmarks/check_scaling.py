"""`check` time as files grow: linear, and the largest file the limits allow.

Generated networks of 1,000, 10,000 and 100,000 statements (the most the limits allow after
expansion), written one a line and all on one line, a network with 80,000 parameters, one
with 30,000 parameters and 20,000 statements (each statement can read every parameter), and a
line of 4,000 statements that each draw a warning, rendered as `check` prints them. Every
statement reaches the parser, resolve, expand and lint. The figure is processor time
(`time.process_time`) of the whole static pipeline in-process, best of `--runs`: on a busy
machine wall time measures the neighbours, processor time the work.

    python benchmarks/check_scaling.py [--runs 3]
"""

from __future__ import annotations

import argparse
import io
import time

from rich.console import Console

from cnndsl import limits
from cnndsl.compiler import check_file
from cnndsl.render import print_diagnostics
from cnndsl.source import SourceFile


def statements(count: int, separator: str) -> str:
    """`count` statements (alternately a 1x1 convolution and a relu) after the input."""
    body = separator.join(["conv(4, 1)", "relu"] * (count // 2))
    return "network Big {\ninput 4x8x8\n" + body + "\n}\n"


def parameters(count: int, body: str = "conv(p1, 1)") -> str:
    params = ",".join(f"p{i}=1" for i in range(count))
    return f"network Params({params}) {{\ninput 4x8x8\n{body}\n}}\n"


def check_and_render(source: str) -> int:
    """Check, then render every diagnostic as `check` does; the number of diagnostics."""
    report = check_file(SourceFile("bench.net", source))
    print_diagnostics(Console(file=io.StringIO(), width=100, color_system=None), report.diagnostics)
    return len(report.diagnostics)


def best(source: str, runs: int) -> tuple[float, int]:
    times, found = [], 0
    for _ in range(runs):
        start = time.process_time()
        found = check_and_render(source)
        times.append(time.process_time() - start)
    return min(times), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cases = [(f"{n:,} statements, one a line", statements(n, "\n"), n) for n in (1_000, 10_000, 100_000)]
    cases += [(f"{n:,} statements, one line", statements(n, ";"), n) for n in (1_000, 10_000, 100_000)]
    cases += [("80,000 parameters", parameters(80_000), 80_000),
              # every statement sees every parameter: linear only if the names are shared, not copied
              ("30,000 parameters x 20,000 stmts", parameters(30_000, "\n".join(["relu"] * 20_000)), 50_000),
              ("4,000 warnings on one line", "network W {\ninput 4\n" + "relu;" * 4_000 + "\n}\n", 4_000)]
    print(f"{'input':32}{'bytes':>11}{'seconds':>9}{'us/item':>9}{'diagnostics':>13}")
    for name, source, items in cases:
        size = len(source.encode())
        assert size <= limits.MAX_FILE_BYTES, f"{name} is over the file limit"
        seconds, found = best(source, args.runs)
        print(f"{name:32}{size:11,}{seconds:9.3f}{seconds / items * 1e6:9.1f}{found:13,}")


if __name__ == "__main__":
    main()
