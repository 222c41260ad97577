"""`check` time as files grow: linear, and within 2 s for the largest files the limits allow.

Two tables. The first shows growth: generated networks of 1,000, 10,000 and 100,000
statements, written one a line and all on one line, a network with 80,000 parameters, and one
with 30,000 parameters and 20,000 statements (each statement can read every parameter). Most of
these are over the file-size limit (limits.MAX_FILE_BYTES), which this script lifts for that
table only, so that the cost per statement can be read at every size. The second table holds
the largest files the limits allow: each fills the limit with one kind of statement (the
cheapest to write and the dearest to check: one-word layers, calls with arguments, names that
are each an error, labels, assertions, expressions, `# allow` comments, parameters), and many
networks sharing one expansion budget, plus a line of 4,000
statements that each draw a warning, rendered as `check` prints them.

Every statement reaches the parser, resolve, expand and lint. The figure is processor time
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
    report = check_file(SourceFile("bench.net", source), every=True)  # as `check` does: every network
    print_diagnostics(Console(file=io.StringIO(), width=100, color_system=None), report.diagnostics)
    return len(report.diagnostics)


def best(source: str, runs: int) -> tuple[float, int]:
    times, found = [], 0
    for _ in range(runs):
        start = time.process_time()
        found = check_and_render(source)
        times.append(time.process_time() - start)
    return min(times), found


def filled(unit: str, head: str = "network Big {\ninput 4x8x8\n", tail: str = "\n}\n") -> str:
    """A network whose body repeats `unit` as often as the file-size limit allows."""
    room = limits.MAX_FILE_BYTES - len((head + tail).encode())
    return head + unit * (room // len(unit.encode())) + tail


def largest_parameters() -> str:
    """As many parameters as fit within the limit."""
    count = 1
    while len(parameters(count * 2).encode()) <= limits.MAX_FILE_BYTES:
        count *= 2
    step = count // 2
    while step:
        if len(parameters(count + step).encode()) <= limits.MAX_FILE_BYTES:
            count += step
        step //= 2
    return parameters(count)


def table(title: str, cases: list[tuple[str, str, int]], runs: int) -> list[float]:
    print(f"\n{title}")
    print(f"{'input':40}{'bytes':>11}{'seconds':>9}{'us/item':>9}{'diagnostics':>13}")
    times = []
    for name, source, items in cases:
        seconds, found = best(source, runs)
        times.append(seconds)
        print(f"{name:40}{len(source.encode()):11,}{seconds:9.3f}{seconds / items * 1e6:9.1f}{found:13,}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    growth = [(f"{n:,} statements, one a line", statements(n, "\n"), n) for n in (1_000, 10_000, 100_000)]
    growth += [(f"{n:,} statements, one line", statements(n, ";"), n) for n in (1_000, 10_000, 100_000)]
    growth += [("80,000 parameters", parameters(80_000), 80_000),
               # every statement sees every parameter: linear only if the names are shared, not copied
               ("30,000 parameters x 20,000 stmts", parameters(30_000, "\n".join(["relu"] * 20_000)), 50_000)]
    limit = limits.MAX_FILE_BYTES
    limits.MAX_FILE_BYTES = 1 << 30
    try:
        table(f"Growth (the file-size limit of {limit:,} bytes lifted for this table)", growth, args.runs)
    finally:
        limits.MAX_FILE_BYTES = limit

    largest = []
    for unit in ("relu;", "relu\n", "conv(4, 1);relu;", "a;", "bogus;", "a: relu;", "relu -> 4x8x8;",
                 "dropout(1 - 1 + 0);", "relu  # allow(W0203)\n", "# allow(W0203)\nrelu\n"):
        source = filled(unit)
        name = f"`{unit.strip()}` to the limit".replace("\n", " \\n ")
        largest.append((name, source, source.count(";") + source.count("\n")))
    networks = [f"network A{n} {{ input 4x1x1 conv(4, 1) * 49000 }}\n" for n in range(limits.MAX_FILE_BYTES // 40)]
    while len("".join(networks).encode()) > limits.MAX_FILE_BYTES:
        networks.pop()
    largest.append((f"{len(networks):,} networks of 49,000 statements", "".join(networks), 100_000))
    stacked = filled("relu\n", "# allow(W0203)\n" * 4_000 + "network Big {\ninput 4x8x8\n")
    largest.append(("4,000 allows above one network", stacked, stacked.count("\n")))
    source = largest_parameters()
    largest.append(("parameters to the limit", source, source.count("=")))
    largest.append(("4,000 warnings on one line", "network W {\ninput 4\n" + "relu;" * 4_000 + "\n}\n", 4_000))
    for name, source, _ in largest:
        assert len(source.encode()) <= limits.MAX_FILE_BYTES, f"{name} is over the file limit"
    times = table(f"The largest files the limits allow ({limit:,} bytes)", largest, args.runs)
    print(f"\nslowest of the largest files: {max(times):.2f} s (target: 2 s)")


if __name__ == "__main__":
    main()
