"""Expressions: evaluation with exact integer division, and coercion to a layer's parameters;
and values written on a command line (`--set NAME=VALUE`), read as the language reads them."""

from __future__ import annotations

import ast
import enum
import math
import re
import sys
from typing import Final, Mapping, Union, cast

from . import codes, limits, syntax as S
from .diagnostics import Diagnostic, error
from .ir import Value
from .layers import Param


class EvalError(Exception):
    """Raised with the diagnostic that explains why an expression has no value."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


class Unknown(Exception):
    """The expression reads a name whose value is unknown because of an earlier error."""


class _Unknown(enum.Enum):
    """The type of UNKNOWN: a one-member enum, so that `value is UNKNOWN` narrows for mypy."""

    UNKNOWN = "unknown"


UNKNOWN: Final = _Unknown.UNKNOWN
ValueOrUnknown = Union[Value, _Unknown]
Env = Mapping[str, ValueOrUnknown]  # the names in scope; UNKNOWN where an earlier error left no value


def type_name(value: Value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a tuple"


def show(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "(" + ", ".join(show(v) for v in value) + ")"
    return show_number(value)


def show_number(value: int | float) -> str:
    """A number for a message, whatever its size: Python refuses to print an integer of more
    than 4,300 digits, and a message has no use for more than a few."""
    if isinstance(value, int) and abs(value) >= 10**30:
        digits = value.bit_length() * 30103 // 100000  # log10(2), to within one digit
        return f"{'-' if value < 0 else ''}about 10^{digits}"
    return repr(value)


def _bounded(value: int | float, expr: S.Expr) -> int | float:
    """Every number an expression yields is an integer within MAX_INTEGER or a finite float;
    past that, it is a diagnostic at the expression, never an overflow later."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > limits.MAX_INTEGER:
            raise EvalError(error(codes.E0038, f"integer out of range: {show_number(value)}", expr.span,
                                  "too large", notes=(f"integers are limited to ±2^62 ({limits.MAX_INTEGER:,})",),
                                  help="a size this large cannot be meant; check the arithmetic"))
        return value
    if not math.isfinite(value):
        raise EvalError(error(codes.E0038, f"number out of range: {_nonfinite(value)}", expr.span,
                              "not a finite number", notes=(f"numbers are limited to ±{sys.float_info.max:.3g}",),
                              help="a value this large cannot be meant; check the arithmetic"))
    return value


def _nonfinite(value: float) -> str:
    return "not a number" if math.isnan(value) else "infinite"


def _check(value: Value, expr: S.Expr) -> Value:
    """`_bounded` for any value, tuples included (from `--set`, they reach names unchecked)."""
    if isinstance(value, tuple):
        return tuple(_check(v, expr) for v in value)
    if isinstance(value, (int, float)):
        return _bounded(value, expr)
    return value


def _number(value: Value, expr: S.Expr, op: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EvalError(error(codes.E0030, f"`{op}` needs numbers, found {type_name(value)}", expr.span,
                              f"this is {show(value)}"))
    return value


def evaluate(expr: S.Expr, env: Env) -> Value:
    """Evaluate an expression; `env` maps names to values (or UNKNOWN)."""
    if isinstance(expr, (S.Literal, S.Name)):
        if isinstance(expr, S.Literal):
            value: Value | _Unknown = expr.value
        else:
            value = env.get(expr.id, UNKNOWN)  # unknown names were reported by resolve
        if value is UNKNOWN:
            raise Unknown(cast(S.Name, expr).id)
        return _check(value, expr)
    if isinstance(expr, S.TupleExpr):
        return tuple(evaluate(item, env) for item in expr.items)
    if isinstance(expr, S.Unary):
        value = _number(evaluate(expr.operand, env), expr.operand, expr.op)
        return -value if expr.op == "-" else value
    left = _number(evaluate(expr.left, env), expr.left, expr.op)
    right = _number(evaluate(expr.right, env), expr.right, expr.op)
    return _bounded(_arithmetic(expr, left, right), expr)


def _arithmetic(expr: S.Binary, left: int | float, right: int | float) -> int | float:
    """One operator on operands within bounds (integers within 2^62 convert to float exactly
    enough and never overflow it); the caller bounds the result."""
    op = expr.op
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if right == 0:
        raise EvalError(error(codes.E0032, "division by zero", expr.right.span, "this is 0"))
    if op == "/":
        if isinstance(left, int) and isinstance(right, int):
            if left % right:
                raise EvalError(error(codes.E0031, f"{left} / {right} is not an integer", expr.span,
                                      f"= {left / right:g}",
                                      help=f"use `//` to round down ({left // right}), or make the sizes divide"))
            return left // right
        return left / right
    if isinstance(left, float) or isinstance(right, float):
        if op == "%":
            return math.fmod(left, right)
        quotient = _bounded(left / right, expr)
        return math.floor(quotient)
    return left // right if op == "//" else left % right


def _pair(value: Value) -> tuple | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, tuple) and len(value) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        return value
    return None


_EXPECTED = {
    "int": "an integer", "pair": "an integer or an (h, w) pair of integers",
    "padding": 'an integer, an (h, w) pair, "same" or "valid"', "float": "a number",
    "bool": "true or false", "str": "a string", "scale": "a number or an (h, w) pair of numbers",
}


def coerce(param: Param, value: Value) -> Value:
    """Check `value` against a layer parameter and normalise it; raise ValueError(reason)."""
    kind = param.kind
    if value is None:
        return None
    result: Value | None = None
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        result = value
    elif kind == "pair":
        result = _pair(value)
    elif kind == "padding":
        if value in ("same", "valid"):
            return (0, 0) if value == "valid" else "same"
        result = _pair(value)
    elif kind == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
        result = float(value)
    elif kind == "bool" and isinstance(value, bool):
        result = value
    elif kind == "str" and isinstance(value, str):
        if param.choices and value not in param.choices:
            raise ValueError(f"expected one of {', '.join(show(c) for c in param.choices)}, found {show(value)}")
        result = value
    elif kind == "scale":
        numbers = value if isinstance(value, tuple) else (value,)
        if len(numbers) in (1, 2) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
            result = value
    if result is None:
        raise ValueError(f"expected {_EXPECTED[kind]}, found {show(value)}")
    if param.minimum is not None:
        numbers = result if isinstance(result, tuple) else (result,)
        if any(n < param.minimum for n in numbers):
            bound = "positive" if param.minimum == 1 else f"at least {param.minimum:g}"
            raise ValueError(f"must be {bound}, found {show(value)}")
    if param.maximum is not None:
        numbers = result if isinstance(result, tuple) else (result,)
        if any(n > param.maximum for n in numbers):
            raise ValueError(f"must be at most {param.maximum:g}, found {show(value)}")
    return result


def _whole_number(digits: str) -> int:
    """An integer literal of any length. `int()` refuses more than 4,300 digits; read in
    pieces, a huge `--set` value is still an integer, which the bounds then refuse (E0038)
    like the same literal in a file, instead of passing for a string."""
    sign, body = (-1, digits[1:]) if digits[0] == "-" else (1, digits.lstrip("+"))
    value = 0
    for start in range(0, len(body), 1000):
        piece = body[start:start + 1000]
        value = value * 10 ** len(piece) + int(piece)
    return sign * value


def parse_value(text: str) -> Value:
    """A `--set` value: an integer, a number, true/false, a tuple, or else a string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if re.fullmatch(r"[+-]?[0-9]+", lowered):
        return _whole_number(lowered)
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    if isinstance(value, (int, float, str)) or (
            isinstance(value, tuple) and all(isinstance(v, (int, float)) for v in value)):
        return value
    return text


def parse_set(item: str) -> tuple[str, Value] | None:
    """One `--set NAME=VALUE` item as (name, value); None when it is not of that form. The
    command line and the `%%cnndsl` magic both read their items here and word the refusal."""
    name, sep, raw = item.partition("=")
    if not sep or not name.strip().isidentifier():
        return None
    return name.strip(), parse_value(raw)
