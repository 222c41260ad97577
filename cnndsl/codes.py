"""Every diagnostic code, defined once: its code, name, severity, one-line summary and the anchor
of its entry in docs/errors.md. Passes raise diagnostics through these values (`error(E0101,
...)`), never through a code written as a string; `cnndsl check --ignore`, `# allow(...)` and the
docs test read the same table.

The number says the family: `E00xx` syntax, names and values; `E01xx` shapes and sizes; `E03xx`
building the PyTorch module and loading weights into it; `W02xx` lint (the rules in `passes/lint.py`, and W0201, which the
shape rules of `layers.py` raise where the arithmetic is done); `W0205` the `allow` comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Code:
    """One diagnostic code of the registry: the one place its name, severity and summary are written."""

    code: str
    name: str
    severity: Severity
    summary: str

    @property
    def anchor(self) -> str:
        """The id of its heading in docs/errors.md, as Markdown renderers make it."""
        heading = f"{self.code}: {self.summary}".lower()
        return re.sub(r"[^a-z0-9 -]", "", heading).replace(" ", "-")

    def __str__(self) -> str:
        return self.code


CODES: dict[str, Code] = {}


def _code(code: str, name: str, severity: Severity, summary: str) -> Code:
    CODES[code] = Code(code, name, severity, summary)
    return CODES[code]


E0001 = _code("E0001", "syntax-error", Severity.ERROR, "syntax error")
E0003 = _code("E0003", "unreadable-file", Severity.ERROR, "unreadable file")
E0004 = _code("E0004", "file-too-large", Severity.ERROR, "file too large")
E0005 = _code("E0005", "nesting-too-deep", Severity.ERROR, "nesting too deep")
E0010 = _code("E0010", "unknown-layer-block-or-construct", Severity.ERROR, "unknown layer, block or construct")
E0011 = _code("E0011", "unknown-name-in-an-expression", Severity.ERROR, "unknown name in an expression")
E0012 = _code("E0012", "unknown-keyword-argument", Severity.ERROR, "unknown keyword argument")
E0013 = _code("E0013", "too-many-positional-arguments", Severity.ERROR, "too many positional arguments")
E0014 = _code("E0014", "missing-argument", Severity.ERROR, "missing argument")
E0015 = _code("E0015", "argument-given-twice", Severity.ERROR, "argument given twice")
E0016 = _code("E0016", "defined-twice", Severity.ERROR, "defined twice")
E0017 = _code("E0017", "block-named-like-a-layer", Severity.ERROR, "block named like a layer")
E0018 = _code("E0018", "block-recursion", Severity.ERROR, "block recursion")
E0019 = _code("E0019", "use-cycle", Severity.ERROR, "`use` cycle")
E0020 = _code("E0020", "use-file-not-found", Severity.ERROR, "`use` file not found")
E0021 = _code("E0021", "missing-or-misplaced-input", Severity.ERROR, "missing or misplaced `input`")
E0022 = _code("E0022", "network-not-found", Severity.ERROR, "network not found")
E0023 = _code("E0023", "bad-parameter-list", Severity.ERROR, "bad parameter list")
E0024 = _code("E0024", "label-in-the-wrong-place", Severity.ERROR, "label in the wrong place")
E0025 = _code("E0025", "unknown-network-parameter", Severity.ERROR, "unknown network parameter")
E0026 = _code("E0026", "misplaced-train-section", Severity.ERROR, "misplaced `train` section")
E0027 = _code("E0027", "no-branches", Severity.ERROR, "no branches")
E0028 = _code("E0028", "bad-shape", Severity.ERROR, "bad shape")
E0029 = _code("E0029", "label-reserved-by-pytorch", Severity.ERROR, "label reserved by PyTorch")
E0030 = _code("E0030", "wrong-type", Severity.ERROR, "wrong type")
E0031 = _code("E0031", "inexact-division", Severity.ERROR, "inexact division")
E0032 = _code("E0032", "division-by-zero", Severity.ERROR, "division by zero")
E0033 = _code("E0033", "negative-repeat-count", Severity.ERROR, "negative repeat count")
E0034 = _code("E0034", "network-too-large", Severity.ERROR, "network too large")
E0035 = _code("E0035", "blocks-nested-too-deep", Severity.ERROR, "blocks nested too deep")
E0036 = _code("E0036", "value-out-of-range", Severity.ERROR, "value out of range")
E0037 = _code("E0037", "bad-training-setting", Severity.ERROR, "bad training setting")
E0038 = _code("E0038", "number-out-of-range", Severity.ERROR, "number out of range")
E0039 = _code("E0039", "height-or-width-on-a-vector", Severity.ERROR, "`height` or `width` on a vector")
E0101 = _code("E0101", "shape-assertion-does-not-hold", Severity.ERROR, "shape assertion does not hold")
E0102 = _code("E0102", "output-size-of-0-or-less", Severity.ERROR, "output size of 0 or less")
E0103 = _code("E0103", "spatial-layer-on-a-vector", Severity.ERROR, "spatial layer on a vector")
E0104 = _code("E0104", "linear-on-an-image-shaped-input", Severity.ERROR, "`linear` on an image-shaped input")
E0105 = _code("E0105", "channels-not-divisible-by-groups", Severity.ERROR, "channels not divisible by groups")
E0106 = _code("E0106", "pooling-padding-too-large", Severity.ERROR, "pooling padding too large")
E0107 = _code("E0107", "residual-operands-differ", Severity.ERROR, "residual operands differ")
E0108 = _code("E0108", "concat-or-split-branches-differ-in-size", Severity.ERROR, "concat or split branches differ in size")
E0109 = _code("E0109", "add-branches-differ-in-shape", Severity.ERROR, "add branches differ in shape")
E0110 = _code("E0110", "activation-too-large", Severity.ERROR, "activation too large")
E0111 = _code("E0111", "too-many-parameters", Severity.ERROR, "too many parameters")
E0112 = _code("E0112", "same-padding-with-a-stride", Severity.ERROR, "`same` padding with a stride")
E0113 = _code("E0113", "mul-branches-differ-in-shape", Severity.ERROR, "mul branches differ in shape")
E0114 = _code("E0114", "split-cannot-divide-the-channels", Severity.ERROR, "split cannot divide the channels")
E0301 = _code("E0301", "label-clashes-with-a-pytorch-attribute", Severity.ERROR, "label clashes with a PyTorch attribute")
E0302 = _code("E0302", "weights-do-not-fit", Severity.ERROR, "weights do not fit")
E0303 = _code("E0303", "weights-cannot-be-paired", Severity.ERROR, "weights cannot be paired")
E0304 = _code("E0304", "unreadable-weights-file", Severity.ERROR, "unreadable weights file")
E0305 = _code("E0305", "no-such-layer-to-leave-fresh", Severity.ERROR, "no such layer to leave fresh")
W0201 = _code("W0201", "rows-or-columns-never-read", Severity.WARNING, "rows or columns never read")
W0202 = _code("W0202", "softmax-at-the-end", Severity.WARNING, "softmax at the end")
W0203 = _code("W0203", "layer-without-effect", Severity.WARNING, "layer without effect")
W0204 = _code("W0204", "bias-before-batchnorm", Severity.WARNING, "bias before batchnorm")
W0205 = _code("W0205", "allow-that-silences-nothing", Severity.WARNING, "`allow` that silences nothing")
