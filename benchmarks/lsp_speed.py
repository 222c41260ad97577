"""The language server's latency as an editor sees it, over the server's stdio (a real process).

1. Diagnostics after a change: architectures/resnet18.net is opened, then changed `--runs`
   times (the class count alternates between two values, so every change is a real one);
   each time, the wall time from sending `didChange` to receiving the `publishDiagnostics`
   of that version. Target: a median under 50 ms.
2. Inlay hints for a ResNet-50-sized file: a ResNet-50 written out here (16 bottleneck blocks,
   53 convolutions; torchvision's 25,557,032 parameters), opened, then `textDocument/inlayHint`
   over the whole file `--runs` times. Target: a median under 100 ms. The server analyses a
   document when it changes, so this times the answer alone; the third figure times a change
   and the hints after it together (the class count alternates again), the editor's real case.

    python benchmarks/lsp_speed.py [--runs 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from lsp_client import Client  # noqa: E402  (tests/lsp_client.py: the client the tests use)

RESNET18 = ROOT / "architectures" / "resnet18.net"

RESNET50 = """\
block BottleneckDown(width, out, stride = 2) {
    residual {
        conv(width, 1, bias=false)
        batchnorm
        relu
        conv(width, 3, stride=stride, padding=1, bias=false)
        batchnorm
        relu
        conv(out, 1, bias=false)
        batchnorm
    } shortcut {
        conv(out, 1, stride=stride, bias=false)
        batchnorm
    }
    relu
}

block Bottleneck(width, out) {
    residual {
        conv(width, 1, bias=false)
        batchnorm
        relu
        conv(width, 3, padding=1, bias=false)
        batchnorm
        relu
        conv(out, 1, bias=false)
        batchnorm
    }
    relu
}

network ResNet50(classes = 1000) {
    input 3x224x224
    conv1: conv(64, 7, stride=2, padding=3, bias=false) -> 64x112x112
    bn1: batchnorm
    relu
    maxpool(3, stride=2, padding=1)
    layer1_0: BottleneckDown(64, 256, stride=1)
    layer1_1: Bottleneck(64, 256)
    layer1_2: Bottleneck(64, 256)
    layer2_0: BottleneckDown(128, 512)
    layer2_1: Bottleneck(128, 512)
    layer2_2: Bottleneck(128, 512)
    layer2_3: Bottleneck(128, 512)
    layer3_0: BottleneckDown(256, 1024)
    layer3_1: Bottleneck(256, 1024)
    layer3_2: Bottleneck(256, 1024)
    layer3_3: Bottleneck(256, 1024)
    layer3_4: Bottleneck(256, 1024)
    layer3_5: Bottleneck(256, 1024)
    layer4_0: BottleneckDown(512, 2048)
    layer4_1: Bottleneck(512, 2048)
    layer4_2: Bottleneck(512, 2048)
    avgpool: globalavgpool
    flatten
    fc: linear(classes)
}
"""


def ms(seconds: list[float]) -> str:
    values = sorted(s * 1000 for s in seconds)
    return (f"median {statistics.median(values):.1f} ms, min {values[0]:.1f}, "
            f"p90 {values[int(len(values) * 0.9) - 1]:.1f}, max {values[-1]:.1f} (n={len(values)})")


def diagnostics_after_change(client: Client, runs: int) -> list[float]:
    text = RESNET18.read_text(encoding="utf-8")
    uri = client.open(RESNET18)
    client.diagnostics(uri, 1)
    variants = [text.replace("classes = 1000", "classes = 1001"), text]
    times = []
    for run in range(runs):
        start = time.perf_counter()
        version = client.change(uri, variants[run % 2])
        client.diagnostics(uri, version)
        times.append(time.perf_counter() - start)
    return times


def inlay_hints(client: Client, runs: int, folder: Path) -> tuple[list[float], list[float], int]:
    path = folder / "resnet50.net"
    path.write_text(RESNET50, encoding="utf-8")
    uri = client.open(path)
    assert client.diagnostics(uri, 1) == [], "the ResNet-50 of the benchmark does not check"
    whole = {"textDocument": {"uri": uri},
             "range": {"start": {"line": 0, "character": 0}, "end": {"line": RESNET50.count("\n") + 1, "character": 0}}}
    times, hints = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        hints = len(client.request("textDocument/inlayHint", whole))
        times.append(time.perf_counter() - start)
    variants = [RESNET50.replace("classes = 1000", "classes = 1001"), RESNET50]
    after_change = []
    for run in range(runs):
        start = time.perf_counter()
        client.change(uri, variants[run % 2])
        client.request("textDocument/inlayHint", whole)
        after_change.append(time.perf_counter() - start)
    return times, after_change, hints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, Client(cwd=Path(folder)) as client:
        client.initialize(Path(folder))
        changes = diagnostics_after_change(client, args.runs)
        hints, after_change, count = inlay_hints(client, args.runs, Path(folder))
    print(f"diagnostics after a change to resnet18.net: {ms(changes)}  (target: median < 50 ms)")
    print(f"inlay hints for ResNet-50 ({count} hints):  {ms(hints)}  (target: median < 100 ms)")
    print(f"a change to it, then its inlay hints:    {ms(after_change)}")


if __name__ == "__main__":
    main()
