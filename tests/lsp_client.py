"""A language client as an editor is one: it starts `cnndsl lsp` as a process and speaks
JSON-RPC to it over its standard input and output, with the LSP's `Content-Length` framing.

Used by tests/test_lsp.py and benchmarks/lsp_speed.py. Server notifications are kept in
arrival order; requests the server makes of the client are answered with null.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

TIMEOUT = 60.0  # seconds for any one answer (the first one waits for the server to start)


class Client:
    def __init__(self, command: list[str] | None = None, cwd: Path | None = None) -> None:
        self.process = subprocess.Popen(command or [sys.executable, "-m", "cnndsl", "lsp", "--stdio"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        cwd=cwd)
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.notifications: list[dict[str, Any]] = []
        self.next_id = 0
        self.versions: dict[str, int] = {}
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    # ---- wire --------------------------------------------------------------------------
    def _read(self, stream: BinaryIO) -> None:
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    self.messages.put(None)
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            assert length is not None, "a message without Content-Length"
            self.messages.put(json.loads(stream.read(length)))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def _next(self, deadline: float) -> dict[str, Any]:
        try:
            message = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError("the server did not answer in time") from None
        if message is None:
            raise ConnectionError("the server closed its output: " + self._stderr())
        if "method" in message and "id" in message:  # a request of the server's
            self.send({"id": message["id"], "result": None})
        elif "method" in message:
            self.notifications.append(message)
        return message

    def _stderr(self) -> str:
        self.process.kill()
        assert self.process.stderr is not None
        return self.process.stderr.read().decode("utf-8", "replace")[-2000:]

    # ---- protocol ----------------------------------------------------------------------
    def request(self, method: str, params: Any) -> Any:
        self.next_id += 1
        ident = self.next_id
        self.send({"id": ident, "method": method, "params": params})
        deadline = time.monotonic() + TIMEOUT
        while True:
            message = self._next(deadline)
            if message.get("id") == ident and "method" not in message:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result")

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def initialize(self, root: Path) -> dict[str, Any]:
        result = self.request("initialize", {
            "processId": None, "rootUri": root.resolve().as_uri(),
            "capabilities": {"textDocument": {
                "publishDiagnostics": {"relatedInformation": True},
                "hover": {"contentFormat": ["markdown", "plaintext"]},
                "completion": {"completionItem": {"snippetSupport": False}},
                "signatureHelp": {"signatureInformation": {"parameterInformation": {"labelOffsetSupport": True}}},
                "documentSymbol": {"hierarchicalDocumentSymbolSupport": True},
                "inlayHint": {}, "codeAction": {"codeActionLiteralSupport": {
                    "codeActionKind": {"valueSet": ["quickfix"]}}}}}})
        self.notify("initialized", {})
        return result

    def diagnostics(self, uri: str, version: int | None = None) -> list[dict[str, Any]]:
        """The first diagnostics published for `uri` (for `version`, when given) that were not
        read yet; they are then read."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            for index, note in enumerate(self.notifications):
                params = note["params"]
                if note["method"] == "textDocument/publishDiagnostics" and params["uri"] == uri and (
                        version is None or params.get("version") == version):
                    del self.notifications[index]
                    return params["diagnostics"]
            self._next(deadline)

    def open(self, path: Path, text: str | None = None) -> str:
        uri = path.resolve().as_uri()
        self.versions[uri] = 1
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "cnndsl", "version": 1,
            "text": path.read_text(encoding="utf-8") if text is None else text}})
        return uri

    def change(self, uri: str, text: str) -> int:
        """Replace the whole text; returns the new version."""
        self.versions[uri] += 1
        self.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": self.versions[uri]},
                                               "contentChanges": [{"text": text}]})
        return self.versions[uri]

    def edit(self, uri: str, line: int, character: int, end_line: int, end_character: int, text: str) -> int:
        """An incremental change, as editors send while typing; returns the new version."""
        self.versions[uri] += 1
        self.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": self.versions[uri]},
                                               "contentChanges": [{"range": {
                                                   "start": {"line": line, "character": character},
                                                   "end": {"line": end_line, "character": end_character}},
                                                   "text": text}]})
        return self.versions[uri]

    def at(self, uri: str, method: str, line: int, character: int, **extra: Any) -> Any:
        return self.request(method, {"textDocument": {"uri": uri},
                                     "position": {"line": line, "character": character}, **extra})

    def close(self) -> None:
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            self.process.wait(timeout=10)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
