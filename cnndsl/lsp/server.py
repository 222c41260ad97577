"""`cnndsl lsp`: the language server, on pygls, over standard input and output.

Every change to a document re-checks the whole file, and the files it `use`s (from the
editor's buffer when one is open, else from disk), then publishes the diagnostics; a document
that `use`s the changed one is re-checked too. Requests (hints, hover, definition, symbols,
completion, signature help, formatting) read the analysis of the current text.
"""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from .. import __version__, syntax as S
from ..diagnostics import Diagnostic
from ..formatter import format_source
from ..parser import read_source
from ..source import SourceFile
from . import complete, views
from .analysis import Analysis, analyse
from .convert import Positions, diagnostic

TRIGGERS = ["(", ",", "="]


class NetLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("cnndsl", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.analyses: dict[str, Analysis] = {}
        self.parsed: dict[str, Analysis] = {}   # per document, the last analysis of a text that parsed

    @property
    def positions(self) -> Positions:
        return Positions(self.workspace.position_codec)

    def source(self, document: TextDocument) -> SourceFile:
        path = Path(document.path).resolve() if document.path else None
        text = document.source.replace("\r\n", "\n").replace("\r", "\n")  # as files are read
        return SourceFile(str(path) if path else document.uri, text, path)

    def open_documents(self) -> dict[Path, TextDocument]:
        return {Path(d.path).resolve(): d for d in self.workspace.text_documents.values() if d.path}

    def read(self, path: Path) -> tuple[SourceFile | None, list[Diagnostic]]:
        """A `use`d file: the editor's text when it is open, else the file on disk."""
        document = self.open_documents().get(path.resolve())
        if document is not None:
            return self.source(document), []
        return read_source(path)

    def analysis(self, uri: str) -> Analysis:
        found = self.analyses.get(uri)
        return found if found is not None else self.check(uri)

    def check(self, uri: str) -> Analysis:
        document = self.workspace.get_text_document(uri)
        result = analyse(self.source(document), self.read)
        self.analyses[uri] = result
        if result.module is not None:
            self.parsed[uri] = result
        return result

    def changed(self, uri: str) -> None:
        """Re-check a document and every open document that `use`s it, then publish the
        diagnostics of each open document these analyses read."""
        result = self.check(uri)
        checked = [result]
        if result.file.path is not None:
            checked += [self.check(other) for other, analysis in list(self.analyses.items())
                        if other != uri and any(f.path == result.file.path for f in analysis.files[1:])]
        touched = {f.path for analysis in checked for f in analysis.files if f.path is not None}
        for other in list(self.analyses):
            if other == uri or self.analyses[other].file.path in touched:
                self.publish(other)

    def publish(self, uri: str) -> None:
        """A document's own diagnostics, and those that checking other open documents found in
        it (an error in a block shows where the block is written, even when only a network
        of another file calls it)."""
        own = self.analyses[uri]
        positions = self.positions
        items = [diagnostic(d, own.file, own.module, positions) for d in own.diagnostics]
        seen = {(d.code, d.message, d.span) for d in own.diagnostics}
        for other, analysis in self.analyses.items():
            for d in analysis.diagnostics if other != uri and own.file.path is not None else ():
                if d.span is not None and d.span.file.path == own.file.path and (d.code, d.message, d.span) not in seen:
                    seen.add((d.code, d.message, d.span))
                    items.append(diagnostic(d, own.file, own.module, positions))
        version = self.workspace.get_text_document(uri).version
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, items, version))

    def blocks(self, uri: str) -> dict[str, S.Block]:
        parsed = self.parsed.get(uri)
        return dict(parsed.program.blocks) if parsed is not None and parsed.program is not None else {}


def build() -> NetLanguageServer:
    """A server with every feature registered (a fresh one per call)."""
    server = NetLanguageServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: NetLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: NetLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.changed(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: NetLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.analyses.pop(uri, None)
        ls.parsed.pop(uri, None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, []))

    @server.feature(types.TEXT_DOCUMENT_INLAY_HINT)
    def inlay_hint(ls: NetLanguageServer, params: types.InlayHintParams) -> list[types.InlayHint]:
        analysis = ls.analysis(params.text_document.uri)
        return views.inlay_hints(analysis, ls.positions, params.range.start.line + 1, params.range.end.line + 1)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: NetLanguageServer, params: types.HoverParams) -> types.Hover | None:
        analysis = ls.analysis(params.text_document.uri)
        positions = ls.positions
        found = views.hover(analysis, *positions.from_client(analysis.file, params.position))
        if found is None:
            return None
        text, span = found
        return types.Hover(types.MarkupContent(types.MarkupKind.Markdown, text), positions.range(span))

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: NetLanguageServer, params: types.DefinitionParams) -> types.Location | None:
        analysis = ls.analysis(params.text_document.uri)
        positions = ls.positions
        target = views.definition(analysis, *positions.from_client(analysis.file, params.position))
        return views.location(target, positions) if target is not None else None

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def document_symbol(ls: NetLanguageServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
        return views.symbols(ls.analysis(params.text_document.uri), ls.positions)

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=TRIGGERS))
    def completion(ls: NetLanguageServer, params: types.CompletionParams) -> types.CompletionList:
        document = ls.workspace.get_text_document(params.text_document.uri)
        before = document.source[:document.offset_at_position(params.position)]
        items = complete.completions(before, document.source, ls.blocks(params.text_document.uri))
        return types.CompletionList(is_incomplete=False, items=items)

    @server.feature(types.TEXT_DOCUMENT_SIGNATURE_HELP, types.SignatureHelpOptions(trigger_characters=TRIGGERS))
    def signature_help(ls: NetLanguageServer, params: types.SignatureHelpParams) -> types.SignatureHelp | None:
        document = ls.workspace.get_text_document(params.text_document.uri)
        before = document.source[:document.offset_at_position(params.position)]
        return complete.signature_help(before, document.source, ls.blocks(params.text_document.uri))

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix, views.FIX_ALL]))
    def code_action(ls: NetLanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        analysis = ls.analysis(params.text_document.uri)
        return views.code_actions(analysis, ls.positions, params.range.start.line + 1, params.range.end.line + 1,
                                  params.context.only)

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls: NetLanguageServer, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
        file = ls.source(ls.workspace.get_text_document(params.text_document.uri))
        formatted, _ = format_source(file)
        if formatted is None:
            return None  # a syntax error: the diagnostics say where
        if formatted == file.text:
            return []
        lines = file.text.split("\n")
        end = ls.positions.position(file, len(lines), len(lines[-1]) + 1)
        return [types.TextEdit(types.Range(types.Position(0, 0), end), formatted)]

    return server


def serve() -> None:
    build().start_io()
