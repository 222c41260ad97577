"""Time to check generated networks of 1,000 to 16,000 layers: under 1 s for 1,000, linear growth.

Each network is a chain of conv/batchnorm/relu blocks written out statement by statement (no
repeat), so the parser, resolve, expand and lint all see every layer. Best of 3 in-process runs.

    python benchmarks/check_scaling.py
"""

from __future__ import annotations

import time

from cnndsl.compiler import check_file
from cnndsl.source import SourceFile


def network(layers: int) -> str:
    body = []
    for i in range(layers // 3):
        body.append(f"    c{i}: conv(16, 3, padding=1, bias=false) -> 16x32x32")
        body.append("    batchnorm")
        body.append("    relu")
    return "network Deep {\n    input 16x32x32\n" + "\n".join(body) + "\n}\n"


def best_time(source: str) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        report = check_file(SourceFile("deep.net", source))
        times.append(time.perf_counter() - start)
        assert report.ok, report.diagnostics[:1]
    return min(times)


def main() -> None:
    baseline = None
    print(f"{'layers':>8}{'seconds':>10}{'us/layer':>10}{'vs 1,000':>10}")
    for layers in (999, 1998, 3996, 7992, 15984):
        seconds = best_time(network(layers))
        baseline = baseline or seconds
        print(f"{layers:8,}{seconds:10.3f}{seconds / layers * 1e6:10.1f}{seconds / baseline:9.2f}x")


if __name__ == "__main__":
    main()
