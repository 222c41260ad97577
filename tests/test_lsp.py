"""The language server, driven as an editor drives it: `cnndsl lsp` in its own process, JSON-RPC
over its standard input and output (tests/lsp_client.py), every answer checked against what the
compiler itself says about the same file (`check`, `summary`, the syntax tree)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from cnndsl import ir, syntax as S
from cnndsl.compiler import check_source
from cnndsl.counting import layer_macs, layer_params, summarize
from cnndsl.formatter import format_source
from cnndsl.layers import LAYERS
from cnndsl.lsp.views import MAX_HOVERED
from cnndsl.parser import parse, read_source
from lsp_client import Client

ROOT = Path(__file__).resolve().parent.parent
NETWORKS = sorted((ROOT / "architectures").glob("*.net"))


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with Client(cwd=ROOT) as c:
        c.initialize(ROOT)
        yield c


def everything(uri: str) -> dict[str, Any]:
    return {"textDocument": {"uri": uri},
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 100000, "character": 0}}}


def count(n: int) -> str:
    return f"{n:,}"


def syntax_of(path: Path) -> S.Module:
    file, _ = read_source(path)
    assert file is not None
    module, problems = parse(file)
    assert module is not None, problems
    return module


def calls(body: tuple[S.Stmt, ...]) -> Iterator[S.Call]:
    return (stmt for stmt in S.walk(body) if isinstance(stmt, S.Call))


def test_initialize_announces_the_features(tmp_path: Path) -> None:
    with Client(cwd=tmp_path) as c:
        capabilities = c.initialize(tmp_path)["capabilities"]
    for feature in ("hoverProvider", "definitionProvider", "documentSymbolProvider", "documentFormattingProvider",
                    "inlayHintProvider", "completionProvider", "signatureHelpProvider", "codeActionProvider"):
        assert capabilities.get(feature), feature


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_diagnostics_are_those_of_check(client: Client, path: Path) -> None:
    uri = client.open(path)
    published = client.diagnostics(uri, 1)
    report = check_source(path, every=True)
    assert [(d["code"], d["range"]["start"]["line"] + 1, d["range"]["start"]["character"] + 1)
            for d in published] == [(d.code, d.span.line, d.span.column) for d in report.diagnostics if d.span]
    severities = {"error": 1, "warning": 2}
    assert [d["severity"] for d in published] == [severities[d.severity.value] for d in report.diagnostics]


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_inlay_hints_give_each_statement_its_shape_and_parameters(client: Client, path: Path) -> None:
    """For every statement of a network body: the summary's output shape after it (or, where the
    file asserts the shape, the parameters only), and its parameter count."""
    uri = client.open(path)
    client.diagnostics(uri, 1)
    hints = {h["position"]["line"] + 1: h["label"] for h in client.request("textDocument/inlayHint", everything(uri))}
    report = check_source(path, every=True)
    assert report.networks
    lines = path.read_text(encoding="utf-8").split("\n")
    for net in report.networks:
        for node in net.body:
            line = node.span.end_line
            params = sum(layer_params(leaf) for leaf in ir.leaves((node,)))
            asserted = "->" in lines[line - 1].split("#")[0][node.span.end_column - 1:]
            label = hints.get(line)
            if asserted:
                assert label == (f"{count(params)} params" if params else None), (line, label)
            else:
                assert label is not None, (path.name, line)
                assert label.split(" | ")[0] == f"-> {ir.format_shape(node.out_shape)}" + (
                    f" · {count(params)} params" if params else ""), (line, label)


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_hover_shows_shapes_parameters_macs_and_formula(client: Client, path: Path) -> None:
    uri = client.open(path)
    client.diagnostics(uri, 1)
    report = check_source(path, every=True)
    for net in report.networks:
        leaves = ir.leaves(net.body)
        expansions: dict[Any, list[str]] = {}
        for layer in leaves:
            shown = (f"`{ir.format_shape(layer.in_shape)}` -> `{ir.format_shape(layer.out_shape)}` · "
                     f"{count(layer_params(layer))} parameter")
            expansions.setdefault(layer.span, [])
            if shown not in expansions[layer.span]:
                expansions[layer.span].append(shown)
        for layer in leaves:
            hover = client.at(uri, "textDocument/hover", layer.span.line - 1, layer.span.column - 1)
            text = hover["contents"]["value"]
            listed = expansions[layer.span][:MAX_HOVERED]
            assert all(shown in text for shown in listed), (layer.span, text)
            more = len(expansions[layer.span]) - len(listed)
            assert (f"and {more} more expansions" in text) == (more > 0)
            assert f"PyTorch `{LAYERS[layer.kind].module}`" in text
            if more == 0:
                assert f"{count(layer_macs(layer))} MAC" in text
                for formula in layer.derivation:
                    assert formula in text
        network = next(n for n in syntax_of(path).networks if n.name == net.name)
        hover = client.at(uri, "textDocument/hover", network.name_span.line - 1, network.name_span.column - 1)
        info = summarize(net)
        assert (f"`{ir.format_shape(net.input_shape)}` -> `{ir.format_shape(net.output_shape)}` · "
                f"{count(info.total_params)} parameters · {count(info.macs)} MACs") in hover["contents"]["value"]


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_definition_of_every_block_call(client: Client, path: Path) -> None:
    uri = client.open(path)
    client.diagnostics(uri, 1)
    module = syntax_of(path)
    blocks = {b.name: b for b in module.blocks}
    for definition in [*module.blocks, *module.networks]:
        for call in calls(definition.body):
            found = client.at(uri, "textDocument/definition", call.name_span.line - 1, call.name_span.column)
            if call.name in blocks:
                target = blocks[call.name].name_span
                assert found["uri"] == uri
                assert found["range"]["start"] == {"line": target.line - 1, "character": target.column - 1}
            else:
                assert found is None  # a layer is defined by the language


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_symbols_are_networks_blocks_and_labels(client: Client, path: Path) -> None:
    uri = client.open(path)
    client.diagnostics(uri, 1)
    symbols = client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    module = syntax_of(path)
    definitions = sorted([*module.blocks, *module.networks], key=lambda d: d.span.line)
    assert [s["name"] for s in symbols] == [d.name for d in definitions]
    for symbol, definition in zip(symbols, definitions):
        labels = [stmt.label for stmt in S.walk(definition.body) if isinstance(stmt, S.Labeled)]
        assert [c["name"] for c in symbol.get("children", [])] == labels
        assert symbol["selectionRange"]["start"]["line"] == definition.name_span.line - 1


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_completion_and_signature_help(client: Client, path: Path) -> None:
    """On a fresh line of the network body: every layer and block; inside a call being typed,
    that layer's parameters, with the one under the cursor marked."""
    text = path.read_text(encoding="utf-8")
    module = syntax_of(path)
    network = module.networks[-1]
    line = network.body[0].span.line  # after `input`, 0-based: the next line
    lines = text.split("\n")
    lines.insert(line, "    ")
    uri = client.open(path)
    client.diagnostics(uri, 1)
    version = client.change(uri, "\n".join(lines))
    client.diagnostics(uri, version)
    labels = {item["label"] for item in client.at(uri, "textDocument/completion", line, 4)["items"]}
    assert set(LAYERS) <= labels
    assert {b.name for b in module.blocks} <= labels
    assert {"residual", "concat", "repeat"} <= labels
    lines[line] = "    conv(16, 3, "
    version = client.change(uri, "\n".join(lines))
    client.diagnostics(uri, version)
    items = [item["label"] for item in client.at(uri, "textDocument/completion", line, len(lines[line]))["items"]]
    assert items[:5] == ["stride=", "padding=", "dilation=", "groups=", "bias="]
    assert "channels" in items
    assert not {"out=", "kernel="} & set(items)  # given by position
    help = client.at(uri, "textDocument/signatureHelp", line, len(lines[line]))
    assert help["signatures"][0]["label"].startswith("conv(out, kernel, stride=1")
    assert help["activeParameter"] == 2
    lines[line] = "    conv(16, 3, padding="
    version = client.change(uri, "\n".join(lines))
    client.diagnostics(uri, version)
    assert client.at(uri, "textDocument/signatureHelp", line, len(lines[line]))["activeParameter"] == 3
    client.change(uri, text)


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_formatting_is_fmt(client: Client, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    messy = re.sub(r"\n {4}", "\n  ", text).replace(", ", ",")
    uri = client.open(path, messy)
    client.diagnostics(uri, 1)
    edits = client.request("textDocument/formatting", {"textDocument": {"uri": uri},
                                                        "options": {"tabSize": 4, "insertSpaces": True}})
    file, _ = read_source(path)
    assert file is not None
    assert len(edits) == 1 and edits[0]["range"]["start"] == {"line": 0, "character": 0}
    expected, _ = format_source(type(file)(file.name, messy, file.path))
    assert edits[0]["newText"] == expected


def test_diagnostics_follow_each_change(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "lenet.net"
    text = (ROOT / "architectures" / "lenet5.net").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    uri = client.open(path)
    assert client.diagnostics(uri, 1) == []
    broken = text.replace("-> 6x28x28", "-> 6x30x30", 1)
    assert broken != text
    version = client.change(uri, broken)
    (published,) = client.diagnostics(uri, version)
    assert published["code"] == "E0101"
    assert "inferred 6x28x28" in published["message"] and "help: write `-> 6x28x28`" in published["message"]
    line = next(i for i, l in enumerate(broken.split("\n")) if "6x30x30" in l)
    assert published["range"]["start"]["line"] == line
    # an incremental edit that puts it right again, as an editor sends while typing
    column = broken.split("\n")[line].index("6x30x30")
    version = client.edit(uri, line, column, line, column + len("6x30x30"), "6x28x28")
    assert client.diagnostics(uri, version) == []
    version = client.change(uri, "network Broken {\n    input 1x8x8\n    conv(4, 3\n}\n")
    (syntax,) = client.diagnostics(uri, version)
    assert syntax["code"] == "E0001" and syntax["severity"] == 1
    assert client.request("textDocument/inlayHint", everything(uri)) == []


def test_use_definition_diagnostics_and_changes_across_files(client: Client, tmp_path: Path) -> None:
    """Go to a `use`d file and to a block defined there; an error in the used file is shown on
    the `use` line; editing the used file (unsaved) re-checks the file that uses it."""
    library = tmp_path / "lib.net"
    library.write_text("block Stem(c) {\n    conv(c, 3, padding=1)\n    relu\n}\n", encoding="utf-8")
    main = tmp_path / "main.net"
    main.write_text('use "lib.net"\n\nnetwork Net {\n    input 3x8x8\n    Stem(4)\n    flatten\n    linear(2)\n}\n',
                    encoding="utf-8")
    uri = client.open(main)
    assert client.diagnostics(uri, 1) == []
    found = client.at(uri, "textDocument/definition", 0, 6)
    assert found["uri"] == library.resolve().as_uri()
    found = client.at(uri, "textDocument/definition", 4, 5)
    assert found["uri"] == library.resolve().as_uri() and found["range"]["start"] == {"line": 0, "character": 6}
    hints = {h["position"]["line"]: h["label"] for h in client.request("textDocument/inlayHint", everything(uri))}
    assert hints[4] == "-> 4x8x8 · 112 params"
    lib_uri = client.open(library)
    assert client.diagnostics(lib_uri, 1) == []
    assert client.diagnostics(uri) == []  # re-checked: it reads the library's buffer now
    version = client.change(lib_uri, "block Stem(c) {\n    conv(c, 9)\n    relu\n}\n")
    (own,) = client.diagnostics(lib_uri, version)  # found by checking main.net, which calls the block
    assert own["code"] == "E0102" and own["range"]["start"]["line"] == 1
    (shown,) = client.diagnostics(uri)
    assert shown["code"] == "E0102" and shown["range"]["start"]["line"] == 0  # the `use` line
    assert shown["message"].startswith(f"in {library.resolve()}:2:")
    assert shown["relatedInformation"][0]["location"]["uri"] == lib_uri


def test_the_server_never_imports_torch(tmp_path: Path) -> None:
    """The server's own process, after a session over every network, has not loaded torch."""
    probe = ("import atexit, sys\n"
             "atexit.register(lambda: sys.stderr.write('torch loaded' if 'torch' in sys.modules else 'no torch'))\n"
             "sys.argv = ['cnndsl', 'lsp']\n"
             "from cnndsl.cli import main\n"
             "main()\n")
    c = Client([sys.executable, "-c", probe], cwd=tmp_path)
    c.initialize(tmp_path)
    for path in NETWORKS:
        uri = c.open(path)
        c.diagnostics(uri, 1)
        c.request("textDocument/inlayHint", everything(uri))
        c.at(uri, "textDocument/hover", 0, 0)
    c.request("shutdown", None)
    c.notify("exit", None)
    code = c.process.wait(timeout=30)
    assert c.process.stderr is not None
    err = c.process.stderr.read().decode()
    assert code == 0, err
    assert err.endswith("no torch")


def test_cnndsl_lsp_is_a_command() -> None:
    result = subprocess.run([sys.executable, "-m", "cnndsl", "lsp", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and "language server" in result.stdout


def test_the_vscode_extension_starts_this_server(tmp_path: Path) -> None:
    """The extension's manifest activates on the language and runs `cnndsl lsp` by default; that
    command line, with the `--stdio` the client adds, is a working server."""
    vscode = ROOT / "editors" / "vscode"
    manifest = json.loads((vscode / "package.json").read_text(encoding="utf-8"))
    (language,) = manifest["contributes"]["languages"]
    assert manifest["activationEvents"] == [f"onLanguage:{language['id']}"]
    assert (vscode / manifest["main"]).is_file()
    assert "vscode-languageclient" in manifest["dependencies"]
    settings = manifest["contributes"]["configuration"]["properties"]
    assert settings["cnndsl.server.command"]["default"] == "cnndsl"
    script = (vscode / manifest["main"]).read_text(encoding="utf-8")
    assert 'settings.get("server.command"' in script and 'settings.get("server.args"' in script
    with Client([sys.executable, "-m", "cnndsl", *settings["cnndsl.server.args"]["default"], "--stdio"],
                cwd=tmp_path) as c:
        assert c.initialize(tmp_path)["serverInfo"]["name"] == "cnndsl"


def test_the_picture_in_the_docs_is_the_server_s_answer() -> None:
    sys.path.insert(0, str(ROOT / "docs" / "images"))
    try:
        import lsp_hints
    finally:
        sys.path.remove(str(ROOT / "docs" / "images"))
    drawn = lsp_hints.picture(*lsp_hints.answers())
    assert drawn == lsp_hints.PICTURE.read_text(encoding="utf-8"), "run python docs/images/lsp_hints.py"


def apply_edits(text: str, edits: list[dict[str, Any]]) -> str:
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)

    def offset(position: dict[str, int]) -> int:
        return starts[position["line"]] + position["character"]  # ASCII files: UTF-16 units are characters

    for edit in sorted(edits, key=lambda e: offset(e["range"]["start"]), reverse=True):
        text = text[:offset(edit["range"]["start"])] + edit["newText"] + text[offset(edit["range"]["end"]):]
    return text


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_code_actions_are_the_fixes(client: Client, path: Path) -> None:
    """Misspell the first layer of the network: the quick fix on it, and *Fix all*, give the
    file back as it was."""
    text = path.read_text(encoding="utf-8")
    network = syntax_of(path).networks[-1]
    call = next(calls(network.body))
    lines = text.split("\n")
    line = lines[call.name_span.line - 1]
    start, end = call.name_span.column - 1, call.name_span.end_column - 1
    typo = call.name[1] + call.name[0] + call.name[2:]  # conv -> ocnv
    lines[call.name_span.line - 1] = line[:start] + typo + line[end:]
    uri = client.open(path, "\n".join(lines))
    (published,) = client.diagnostics(uri, 1)
    assert published["code"] == "E0010"
    at = {"start": {"line": call.name_span.line - 1, "character": 0},
          "end": {"line": call.name_span.line - 1, "character": 0}}
    actions = client.request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": at,
                                                          "context": {"diagnostics": [published]}})
    (quick,) = [a for a in actions if a["kind"] == "quickfix"]
    assert quick["title"] == f"replace `{typo}` by `{call.name}`" and quick["isPreferred"]
    assert quick["diagnostics"][0]["code"] == "E0010"
    assert apply_edits("\n".join(lines), quick["edit"]["changes"][uri]) == text
    (every,) = [a for a in actions if a["kind"].startswith("source.fixAll")]
    assert apply_edits("\n".join(lines), every["edit"]["changes"][uri]) == text
    client.change(uri, text)


def test_allow_comments_in_the_editor(client: Client, tmp_path: Path) -> None:
    """`allow` silences as in `check`; one that silences nothing is shown (W0205), except in a
    file of blocks alone, whose warnings only a network that calls them can show."""
    path = tmp_path / "net.net"
    text = "network N {\n    input 3x8x8\n    conv(4, 3)  # allow(W0204)\n    batchnorm\n    flatten\n    linear(2)\n}\n"
    uri = client.open(path, text)
    assert client.diagnostics(uri, 1) == []
    version = client.change(uri, text.replace("conv(4, 3)", "conv(4, 3, bias=false)"))
    (unused,) = client.diagnostics(uri, version)
    assert unused["code"] == "W0205" and unused["range"]["start"] == {"line": 2, "character": 28}
    library = client.open(tmp_path / "lib.net", "# allow(W0204)\nblock B { conv(4, 3) batchnorm }\n")
    assert client.diagnostics(library, 1) == []


def test_the_files_a_document_uses_are_bounded_together(tmp_path: Path) -> None:
    """As for `check`: `use`s of twenty links to one large library are read only until the total
    passes the limit (the server used to parse every one, seconds a keystroke)."""
    from cnndsl.lsp.analysis import analyse
    from cnndsl.source import SourceFile

    library = tmp_path / "library.net"
    library.write_text("block Big { relu }\n" + "# padding\n" * 10_000)
    for n in range(20):
        os.link(library, tmp_path / f"link{n}.net")
    root = "".join(f'use "link{n}.net"\n' for n in range(20)) + "network A { input 4 Big }\n"
    result = analyse(SourceFile(str(tmp_path / "root.net"), root, tmp_path / "root.net"), read_source)
    assert [d.code for d in result.diagnostics] == ["E0004"]
    assert "together exceed" in result.diagnostics[0].message
