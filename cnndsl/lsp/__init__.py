"""The language server (`cnndsl lsp`): diagnostics as you type, shapes as inlay hints, hover,
definitions, symbols, completion, signature help and formatting for `.net` files.

`analysis.py` checks a document as `cnndsl check` does and keeps what expansion learnt about
each statement; `views.py` and `complete.py` answer requests from it; `convert.py` crosses
between spans and the protocol's positions; `server.py` wires them to pygls. Like the rest of
the static path, none of it imports torch.
"""
