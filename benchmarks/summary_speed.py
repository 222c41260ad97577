"""`cnndsl summary` of VGG-16 versus torchinfo's summary of torchvision's vgg16.

Both run as whole processes, alternated, several times; wall time and peak resident memory
(from wait4's rusage) are compared as medians. Needs `pip install torchinfo`. With `--alone
FILE`, only `cnndsl summary FILE` is timed (the zoo's EfficientNet-B0, say), and the run
fails if the summary imported torch.

Both run as they would for a user: with Python's bytecode cache. An untimed first run of each
writes it (pip writes it for installed packages; an editable install of cnndsl gets it on
first use), so PYTHONDONTWRITEBYTECODE, set in some sandboxes, is dropped for the children.

    python benchmarks/summary_speed.py [--runs 5]
    python benchmarks/summary_speed.py --alone architectures/zoo/efficientnet_b0.net --runs 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CNNDSL = [sys.executable, "-m", "cnndsl", "summary", str(ROOT / "architectures" / "vgg16.net")]
TORCHINFO = [sys.executable, "-c",
             "import torchvision, torchinfo\n"
             "torchinfo.summary(torchvision.models.vgg16(weights=None), input_size=(1, 3, 224, 224))"]

CHILD_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def measure(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS in MiB of one run of `command`."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=CHILD_ENV)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command[:4])} failed: {process.stderr.read().decode()}")
    return wall, usage.ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--alone", type=Path, help="time `cnndsl summary FILE` only, without torchinfo")
    args = parser.parse_args()
    runs = args.runs
    if args.alone is not None:
        alone(args.alone, runs)
        return
    results: dict[str, list[tuple[float, float]]] = {"cnndsl": [], "torchinfo": []}
    measure(CNNDSL), measure(TORCHINFO)  # warm the file and bytecode caches
    for _ in range(runs):
        results["cnndsl"].append(measure(CNNDSL))
        results["torchinfo"].append(measure(TORCHINFO))
    med = {name: (statistics.median(w for w, _ in rows), statistics.median(m for _, m in rows))
           for name, rows in results.items()}
    print(f"{'':12}{'wall (s)':>10}{'peak RSS (MiB)':>16}   median of {runs} runs")
    for name, (wall, rss) in med.items():
        print(f"{name:12}{wall:10.3f}{rss:16.1f}")
    print(f"ratio       {med['torchinfo'][0] / med['cnndsl'][0]:9.1f}x {med['torchinfo'][1] / med['cnndsl'][1]:14.1f}x"
          "   (torchinfo / cnndsl; targets: 20x time, 10x memory)")


def alone(path: Path, runs: int) -> None:
    """The median wall time and peak memory of `cnndsl summary FILE`, which must not import torch."""
    check = [sys.executable, "-c", "import sys, cnndsl.cli\n"
             f"sys.argv = ['cnndsl', 'summary', {str(path)!r}]\n"
             "try:\n    cnndsl.cli.main()\nexcept SystemExit:\n    pass\n"
             "assert 'torch' not in sys.modules, 'summary imported torch'"]
    measure(check)  # also warms the file and bytecode caches
    command = [sys.executable, "-m", "cnndsl", "summary", str(path)]
    rows = [measure(command) for _ in range(runs)]
    wall, rss = statistics.median(w for w, _ in rows), statistics.median(m for _, m in rows)
    print(f"cnndsl summary {path}: {wall:.3f} s wall, {rss:.1f} MiB peak RSS (medians of {runs} runs; "
          f"min {min(w for w, _ in rows):.3f} s), torch not imported")


if __name__ == "__main__":
    main()
