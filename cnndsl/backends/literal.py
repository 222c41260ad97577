"""The one way a value from the user's files or flags is written into generated Python.

A file name, a label, a network name or a parameter value can hold any character: a
newline ends a `#` comment and lets the next line run as code, a quote or a backslash
ends a string early. `literal` writes every such value as a Python literal that stays on
one line and means exactly the value, so generated source can only ever say what its
generator meant: strings are double-quoted with every quote, backslash and character that
is not printable (line breaks of every kind, NUL, lone surrogates) escaped; floats that
have no literal (`nan`, `inf`) are spelled as `float("nan")`. The result may stand in code,
in a comment and inside a triple-quoted docstring alike. This module does not import torch.
"""

from __future__ import annotations

import math

# Characters written with a backslash before them; any other printable character stands as it is.
_BACKSLASHED = frozenset("\\\"'")


def literal(value: object) -> str:
    """`value` (a str, bool, int, float, None, or a tuple of them) as Python source."""
    if isinstance(value, str):
        return '"' + "".join(_character(ch) for ch in value) + '"'
    if isinstance(value, (bool, int)) or value is None:
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f'float("{value}")'
    if isinstance(value, tuple):
        items = [literal(item) for item in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    raise TypeError(f"no Python literal for a {type(value).__name__}")


def _character(ch: str) -> str:
    if ch in _BACKSLASHED:
        return "\\" + ch
    if ch.isprintable():
        return ch
    return repr(ch)[1:-1]  # \n, \x00, \u2028, \udc80: Python's own escape for the character
