"""`cnndsl graph`: the layout's structure and geometry, the SVG and PNG writers, the command."""

from __future__ import annotations

import io
import itertools
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from cnndsl import ir
from cnndsl.cli import app
from cnndsl.compiler import check
from cnndsl.graph.captions import caption
from cnndsl.graph.layout import layout
from cnndsl.graph.png import MAX_PIXELS, MAX_SIDE, png
from cnndsl.graph.scene import Box, Circle, Dot, Edge, Frame, Scene, Text
from cnndsl.graph.style import text_width
from cnndsl.graph.svg import svg
from cnndsl.source import SourceFile, Span

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURES = sorted((ROOT / "architectures").glob("*.net"))
LENET = ROOT / "architectures" / "lenet5.net"
RESNET = ROOT / "architectures" / "resnet18.net"
GOOGLENET = ROOT / "architectures" / "googlenet.net"
SVG = "{http://www.w3.org/2000/svg}"

runner = CliRunner()


def network(source: str | Path) -> ir.Network:
    return check(source).network()


def nodes(root: ET.Element, role: str) -> list[ET.Element]:
    """The `<g class="node ROLE ...">` elements of a parsed SVG."""
    return [g for g in root.iter(f"{SVG}g") if g.get("class", "").split()[:2] == ["node", role]]


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def shapes_of(scene: Scene, kind: type) -> list:
    return [s for s in scene.shapes if isinstance(s, kind)]


# ---- captions ---------------------------------------------------------------------------

@pytest.mark.parametrize("statement, expected", [
    ("conv(6, 5)", "conv 6, 5x5"),
    ("conv(64, 7, stride=2, padding=3, bias=false)", "conv 64, 7x7, stride 2, pad 3"),
    ("conv(8, (1, 3), padding=\"same\", groups=4)", "conv 8, 1x3, pad same, groups 4"),
    ("maxpool(2)", "maxpool 2"),
    ("maxpool(3, stride=2, padding=1)", "maxpool 3, stride 2, pad 1"),
    ("maxpool(3, stride=1, padding=1, ceil=true)", "maxpool 3, stride 1, pad 1, ceil"),
    ("adaptiveavgpool(2)", "adaptiveavgpool 2x2"),
    ("batchnorm(eps=0.001)", "batchnorm"),
    ("lrn(5, alpha=0.0005, k=2.0)", "lrn 5, alpha 0.0005, k 2"),
    ("dropout(0.2)", "dropout 0.2"),
    ("upsample(2, mode=\"bilinear\")", "upsample 2, bilinear"),
    ("relu", "relu"),
])
def test_captions_show_the_key_arguments(statement: str, expected: str) -> None:
    net = network(f"network N {{ input 8x8x8 {statement} }}")
    assert caption(ir.leaves(net.body)[0]) == expected


def test_caption_of_linear() -> None:
    net = network("network N { input 16 linear(120) }")
    assert caption(ir.leaves(net.body)[0]) == "linear 120"


# ---- structure in the SVG ---------------------------------------------------------------

def test_lenet_svg_has_a_node_per_layer_and_every_shape() -> None:
    net = network(LENET)
    root = ET.fromstring(svg(layout(net)))
    layers = nodes(root, "layer")
    assert [g.get("class").split()[2] for g in layers] == [layer.kind for layer in ir.leaves(net.body)]
    words = texts(root)
    for shape in ("1x32x32", "6x28x28", "6x14x14", "16x10x10", "16x5x5", "400", "120", "84", "10"):
        assert shape in words
    assert "input 1x32x32" in words and "output 10" in words
    assert "conv 6, 5x5" in words and "maxpool 2" in words
    assert "fc1" in words and "conv1" in words   # labels the user gave
    assert "relu1" not in words and "maxpool1" not in words   # names the compiler made up
    assert any("61,706 parameters" in w and "416,520 MACs" in w for w in words)


def test_every_edge_between_layers_is_labelled_with_the_shape() -> None:
    net = network(LENET)
    scene = layout(net, columns=1)
    labels = [t.text for t in shapes_of(scene, Text)]
    shapes = [ir.format_shape(net.input_shape)] + [ir.format_shape(layer.out_shape) for layer in ir.leaves(net.body)]
    assert sorted(s for s in labels if s in set(shapes)) == sorted(shapes)


def test_blocks_are_frames_or_single_boxes_with_collapse() -> None:
    net = network(RESNET)
    groups = [node for node in net.body if isinstance(node, ir.Group)]
    root = ET.fromstring(svg(layout(net)))
    frames = [g for g in root.iter(f"{SVG}g") if g.get("class") == "frame"]
    assert len(frames) == len(groups) == 8
    assert "layer2_0: BasicDown" in texts(root)
    assert len(nodes(root, "layer")) == len(ir.leaves(net.body))
    assert len(nodes(root, "block")) == 0

    collapsed = ET.fromstring(svg(layout(net, collapse=True)))
    assert len(nodes(collapsed, "block")) == 8
    assert not [g for g in collapsed.iter(f"{SVG}g") if g.get("class") == "frame"]
    top_level = [node for node in net.body if isinstance(node, ir.Layer)]
    assert len(nodes(collapsed, "layer")) == len(top_level)
    assert "Basic, 6 layers" in texts(collapsed) and "BasicDown, 8 layers" in texts(collapsed)


def test_residuals_join_at_a_plus() -> None:
    root = ET.fromstring(svg(layout(network(RESNET))))
    assert [g.get("class") for g in nodes(root, "join")] == ["node join add"] * 8


def test_googlenet_concats() -> None:
    root = ET.fromstring(svg(layout(network(GOOGLENET))))
    assert [g.get("class") for g in nodes(root, "join")] == ["node join concat"] * 9


BRANCHES = """
network Branchy {
    input 8x16x16
    concat {
        branch { conv(4, 1) }
        branch { conv(6, 3, padding=1) relu }
        branch { maxpool(3, stride=1, padding=1) }
    }
    relu
}
"""


def test_branches_side_by_side_then_joined() -> None:
    scene = layout(network(BRANCHES))
    boxes = {b.texts[0].text: b for b in shapes_of(scene, Box)}
    conv4, conv6, pool = boxes["conv 4, 1x1"], boxes["conv 6, 3x3, pad 1"], boxes["maxpool 3, stride 1, pad 1"]
    assert conv4.y == conv6.y == pool.y                                    # the lanes start together
    assert conv4.x + conv4.w < conv6.x < conv6.x + conv6.w < pool.x         # left to right, in order
    join, after = boxes["concat"], boxes["relu"]
    assert join.role == "join" and join.kind == "concat"
    assert all(join.y > b.y + b.h for b in (conv4, conv6, pool)) and after.y > join.y + join.h
    labels = [t.text for t in shapes_of(scene, Text)]
    assert {"4x16x16", "6x16x16", "8x16x16", "18x16x16"} <= set(labels)
    dot = shapes_of(scene, Dot)[0]
    arrows_from_fork = [e for e in shapes_of(scene, Edge) if e.points[0] == (dot.x, dot.y)]
    assert len(arrows_from_fork) == 3 and all(e.arrow for e in arrows_from_fork)
    arrows_into_join = [e for e in shapes_of(scene, Edge) if e.arrow and e.points[-1][1] in
                        (join.y, join.y + join.h / 2)]
    assert len(arrows_into_join) == 3


def test_mul_joins_at_a_times_sign_and_split_lanes_start_from_their_chunk() -> None:
    units = ROOT / "tests" / "conformance" / "nets" / "v2_units.net"
    root = ET.fromstring(svg(layout(network(units))))
    assert [g.get("class") for g in nodes(root, "join")] == \
        ["node join mul", "node join split", "node join add", "node join add", "node join split"]
    scene = layout(network(units))
    assert [c.text.text for c in shapes_of(scene, Circle)] == ["\u00d7", "+", "+"]
    assert [b.kind for b in shapes_of(scene, Box) if b.role == "join"] == ["split", "split"]
    assert_tidy(scene)


RESIDUALS = """
network Skips {
    input 8x16x16
    residual { conv(8, 3, padding=1) relu }
    down: residual { conv(16, 3, stride=2, padding=1) } shortcut { conv(16, 1, stride=2) }
    add { branch { relu } branch { sigmoid } }
}
"""


def test_residual_skip_arrow_runs_from_the_fork_to_the_plus() -> None:
    scene = layout(network(RESIDUALS))
    plus = shapes_of(scene, Circle)
    assert len(plus) == 3 and all(c.text.text == "+" for c in plus)
    dots = shapes_of(scene, Dot)
    identity = plus[0]
    skip = next(e for e in shapes_of(scene, Edge) if e.points[0] == (dots[0].x, dots[0].y) and len(e.points) == 4)
    assert skip.arrow
    assert skip.points[-1] == (identity.cx + identity.r, identity.cy)    # into the + from the side
    assert skip.points[1][0] > max(b.x + b.w for b in shapes_of(scene, Box) if b.y < identity.cy and b.role == "layer")


def test_shortcut_is_drawn_beside_the_body() -> None:
    scene = layout(network(RESIDUALS))
    body = next(b for b in shapes_of(scene, Box) if b.texts[0].text == "conv 16, 3x3, stride 2, pad 1")
    shortcut = next(b for b in shapes_of(scene, Box) if b.texts[0].text == "conv 16, 1x1, stride 2")
    assert body.y == shortcut.y and shortcut.x > body.x + body.w
    assert "down" in [t.text for t in shapes_of(scene, Text)]   # the residual's label


# ---- geometry, for every architecture ----------------------------------------------------

def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _inside(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return b[0] <= a[0] and a[2] <= b[2] and b[1] <= a[1] and a[3] <= b[3]


def _text_rect(text: Text) -> tuple[float, float, float, float]:
    width = text_width(text.text, text.size, text.bold)
    left = {"start": text.x, "middle": text.x - width / 2, "end": text.x - width}[text.anchor]
    return left, text.y - text.size * 0.6, left + width, text.y + text.size * 0.6


def assert_tidy(scene: Scene) -> None:
    """No box, join or text overlaps another; frames nest; text fits its box; everything
    lies on the canvas; arrows run horizontally and vertically."""
    boxes = [(b.x, b.y, b.x + b.w, b.y + b.h) for b in shapes_of(scene, Box)]
    boxes += [(c.cx - c.r, c.cy - c.r, c.cx + c.r, c.cy + c.r) for c in shapes_of(scene, Circle)]
    loose = [_text_rect(t) for t in shapes_of(scene, Text)] + [_text_rect(f.title) for f in shapes_of(scene, Frame)]
    for a, b in itertools.combinations(boxes + loose, 2):
        assert not _overlap(a, b), (a, b)
    frames = [(f.x, f.y, f.x + f.w, f.y + f.h) for f in shapes_of(scene, Frame)]
    for a, b in itertools.combinations(frames, 2):   # frames nest or stay apart
        assert not _overlap(a, b) or _inside(a, b) or _inside(b, a), (a, b)
    for frame, rect in itertools.product(frames, boxes):
        assert not _overlap(frame, rect) or _inside(rect, frame), (frame, rect)
    for box in shapes_of(scene, Box):
        for text in box.texts:
            left, _, right, _ = _text_rect(text)
            assert box.x <= left and right <= box.x + box.w, text.text
    for rect in boxes + loose:
        assert 0 <= rect[0] and rect[2] <= scene.width and 0 <= rect[1] and rect[3] <= scene.height
    for edge in shapes_of(scene, Edge):
        assert all(0 <= x <= scene.width and 0 <= y <= scene.height for x, y in edge.points)
        assert all(x0 == x1 or y0 == y1 for (x0, y0), (x1, y1) in zip(edge.points, edge.points[1:]))


@pytest.mark.parametrize("path", ARCHITECTURES, ids=lambda p: p.stem)
@pytest.mark.parametrize("collapse", [False, True], ids=["full", "collapsed"])
def test_nothing_overlaps_and_everything_fits(path: Path, collapse: bool) -> None:
    assert_tidy(layout(network(path), collapse=collapse))


ODD = """
block Empty() { }
block Inner(c) { concat { branch { conv(c, 1) } branch { residual { relu } } } }
network Odd {
    input 8x8x8
    Empty()
    residual { }
    a_label_so_long_that_it_has_to_be_cut_short_somewhere_in_the_middle: relu
    concat { branch { } branch { conv(4, 1) } }
    nest: residual { Inner(4) conv(12, 1) } shortcut { conv(12, 1) }
    add { branch { identity } }
    flatten
}
"""


@pytest.mark.parametrize("collapse", [False, True], ids=["full", "collapsed"])
def test_empty_blocks_and_branches_and_nesting_stay_tidy(collapse: bool) -> None:
    scene = layout(network(ODD), collapse=collapse)
    assert_tidy(scene)
    words = [t.text for t in shapes_of(scene, Text)] + [t.text for b in shapes_of(scene, Box) for t in b.texts]
    assert "a_label_so_long_that_it_has_to_be_cut_short_s..." in words
    assert "nest" in words
    assert len(shapes_of(scene, Circle)) == (3 if collapse else 4)


def test_a_network_without_layers() -> None:
    scene = layout(network("network Nothing { input 10 }"))
    assert [b.texts[0].text for b in shapes_of(scene, Box)] == ["input 10", "output 10"]


def test_long_networks_wrap_into_columns_and_short_ones_do_not() -> None:
    def axes(scene: Scene) -> set[float]:
        return {b.x + b.w / 2 for b in shapes_of(scene, Box) if b.role in ("input", "output")}

    assert len(axes(layout(network(LENET)))) == 1
    resnet = layout(network(RESNET))
    assert len(axes(resnet)) == 2 and resnet.height < 2 * resnet.width
    single = layout(network(RESNET), columns=1)
    assert len(axes(single)) == 1 and single.height > 3 * resnet.height / 2


# ---- writers -----------------------------------------------------------------------------

def test_labels_and_names_cannot_inject_markup() -> None:
    file = SourceFile("evil.net", "")
    span = Span(file, 1, 1, 1, 2)
    evil = '</text><script>alert(1)</script>&"\x01'
    layer = ir.Layer("linear", {"out": 2, "bias": True}, evil, span, (4,), (2,), label=evil)
    group = ir.Group('Blk"><script>', "<g>", (layer,), span, (4,), (2,), label="<g>")
    net = ir.Network(']]><script>x</script>', {}, (4,), (2,), (group,), span)
    for collapse in (False, True):
        document = svg(layout(net, collapse=collapse))
        root = ET.fromstring(document)
        assert not [e for e in root.iter() if e.tag.endswith("script")]
        assert "<script>" not in document
        assert any(text.startswith("</text><script>") for text in texts(root)) or collapse
        assert "]]><script>x</script>" in texts(root)


def test_png_is_a_valid_image_of_sane_size() -> None:
    for path in (LENET, GOOGLENET):
        data = png(layout(network(path)))
        image = Image.open(io.BytesIO(data))
        assert image.format == "PNG"
        width, height = image.size
        assert 300 < width <= MAX_SIDE and 300 < height <= MAX_SIDE and width * height <= MAX_PIXELS
        image.verify()


def test_png_of_a_huge_network_is_scaled_down_not_huge() -> None:
    net = network("network Deep { input 4x8x8 repeat 600 { conv(4, 3, padding=1) relu } }")
    scene = layout(net, columns=1)
    image = Image.open(io.BytesIO(png(scene)))
    assert scene.height > MAX_SIDE
    assert max(image.size) <= MAX_SIDE and image.size[0] * image.size[1] <= MAX_PIXELS


# ---- the command -------------------------------------------------------------------------

def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_svg_goes_to_stdout_without_o() -> None:
    result = run("graph", LENET)
    assert result.exit_code == 0, result.output
    assert ET.fromstring(result.stdout.encode("utf-8")).tag == f"{SVG}svg"


def test_format_follows_the_extension(tmp_path: Path) -> None:
    for name, magic in (("net.svg", b"<?xml"), ("net.png", b"\x89PNG"), ("NET.PNG", b"\x89PNG")):
        result = run("graph", LENET, "-o", tmp_path / name)
        assert result.exit_code == 0, result.output
        assert (tmp_path / name).read_bytes().startswith(magic)
        assert f"wrote {tmp_path / name}" in result.output
    assert run("graph", LENET, "-o", tmp_path / "diagram", "--format", "png").exit_code == 0
    assert (tmp_path / "diagram").read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["NET.PNG", "diagram", "net.png", "net.svg"]


def test_png_to_a_pipe() -> None:
    result = run("graph", LENET, "--format", "png")
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"\x89PNG")


def test_collapse_and_columns_options(tmp_path: Path) -> None:
    result = run("graph", RESNET, "--collapse", "--columns", "1")
    assert result.exit_code == 0, result.output
    assert len(nodes(ET.fromstring(result.stdout.encode("utf-8")), "block")) == 8


@pytest.mark.parametrize("args, message", [
    (["-o", "{tmp}/net.jpg"], "cannot tell the format"),
    (["-o", "{tmp}/net.svg", "--format", "png"], "does not match"),
    (["-o", "{tmp}/missing/net.svg"], "no directory"),
    (["-o", "{tmp}"], "is a directory"),
    (["-o", str(LENET), "--format", "svg"], "overwrite the network file"),
    (["--format", "gif"], ""),
    (["--columns", "0"], ""),
    (["--frobnicate"], ""),
])
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = run("graph", LENET, *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_missing_file_exits_2() -> None:
    result = run("graph", "no/such/file.net")
    assert result.exit_code == 2 and "no such file" in result.output


def test_rejected_network_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "net.svg"
    result = run("graph", ROOT / "tests" / "golden" / "E0104_missing_flatten.net", "-o", target)
    assert result.exit_code == 1
    assert "error[E0104]" in result.output
    assert not target.exists()


def test_strict_rejects_warnings() -> None:
    path = ROOT / "tests" / "golden" / "W0204_bias_before_batchnorm.net"
    assert run("graph", path).exit_code == 0
    assert run("graph", path, "--strict").exit_code == 1


def test_set_and_network_options(tmp_path: Path) -> None:
    two = tmp_path / "two.net"
    two.write_text("network A(n = 2) { input 4 linear(n) }\nnetwork B { input 8 linear(3) }\n")
    assert run("graph", two).exit_code == 1
    result = run("graph", two, "--network", "A", "--set", "n=7")
    assert result.exit_code == 0
    assert "output 7" in texts(ET.fromstring(result.stdout.encode("utf-8")))


def test_an_existing_file_is_replaced_atomically_with_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "net.svg"
    target.write_text("old")
    os.chmod(target, 0o640)
    assert run("graph", LENET, "-o", target).exit_code == 0
    assert target.read_text(encoding="utf-8").startswith("<?xml")
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["net.svg"]   # no temporary file left


def test_a_new_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    target = tmp_path / "net.png"
    umask = os.umask(0o022)
    try:
        assert run("graph", LENET, "-o", target).exit_code == 0
    finally:
        os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o644


def test_graph_never_imports_torch(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from cnndsl.cli import app\n"
        "for args in (['graph', %r, '-o', %r], ['graph', %r, '-o', %r, '--collapse']):\n"
        "    try:\n"
        "        app(args)\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code == 0, exit.code\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print('no torch')\n" % (str(RESNET), str(tmp_path / "r.svg"), str(RESNET), str(tmp_path / "r.png")))
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "no torch" in result.stdout
    assert (tmp_path / "r.png").read_bytes().startswith(b"\x89PNG")


def test_console_script_reports_errors_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "cnndsl", "graph", str(LENET), "-o", str(tmp_path / "x.gif")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "cannot tell the format" in result.stderr
