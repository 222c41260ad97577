"""`cnndsl lsp`: the language server for editors, on standard input and output."""

from __future__ import annotations

import typer

from .app import app


@app.command()
def lsp(stdio: bool = typer.Option(True, "--stdio", help="Talk over standard input and output (the only "
                                                          "transport; the flag is accepted because editors pass it).")
        ) -> None:
    """Run the language server (LSP 3.17) that editors start: diagnostics, shapes, hover and more."""
    from ..lsp.server import serve  # pygls loads only for this command

    serve()
