"""Completion and signature help, read from the text before the cursor.

While a call is being typed the file rarely parses (`conv(16, ` is not a statement yet), so
the context comes from the brackets and words of the text itself: inside `name(...)` the
parameters of that layer or block, after `name=` or in a positional argument the names an
expression can read, inside a `train { }` section the training settings, inside any other body
the layers, blocks and statement keywords, and outside every body `network`, `block` and `use`.
Blocks of `use`d files come from the last analysis of the file that parsed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lsprotocol import types

from .. import syntax as S
from ..layers import LAYERS, lookup
from ..parser import keywords
from ..settings_schema import SETTING_NAMES
from .views import block_signature, layer_param_text, param_text, signature

TOP_LEVEL = ("network", "block", "use")
LITERALS = ("true", "false")
BUILTINS = ("channels",)  # names every expression inside a body can read
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
_KEYWORD_ARG = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)")
_HEADER = re.compile(r"\b(block|network)\s+([A-Za-z_][A-Za-z0-9_]*)\s*(?:\(([^)]*)\))?\s*$")
_BLOCK = re.compile(r"\bblock\s+([A-Za-z_][A-Za-z0-9_]*)\s*(?:\(([^)]*)\))?")


@dataclass(frozen=True)
class Signature:
    name: str
    params: tuple[tuple[str, str], ...]   # (name, as shown: `out` or `stride=1`)
    doc: str


@dataclass(frozen=True)
class CallContext:
    callee: str
    positional: int                       # positional arguments before the one being typed
    keywords: tuple[str, ...]             # keyword arguments before it
    current_keyword: str | None           # `stride` while typing `stride=...`
    naming: bool                          # the argument so far could still become `name=`


def _blank_comments(text: str) -> str:
    """The text with comments and strings blanked out (same length), so brackets inside them
    do not count."""
    return re.sub(r'"[^"\n]*"?|#[^\n]*', lambda m: " " * len(m.group()), text)


def _open_brackets(text: str) -> list[tuple[str, int]]:
    stack: list[tuple[str, int]] = []
    pairs = {")": "(", "]": "[", "}": "{"}
    for index, char in enumerate(text):
        if char in "([{":
            stack.append((char, index))
        elif char in pairs and stack and stack[-1][0] == pairs[char]:
            stack.pop()
    return stack


def _split_args(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def call_context(before: str) -> CallContext | None:
    """The call whose argument list the cursor is in, if any (the innermost named one: in
    `conv(8, (3, ` it is `conv`)."""
    text = _blank_comments(before)
    for char, index in reversed(_open_brackets(text)):
        if char == "{":
            return None
        if char != "(":
            continue
        word = _WORD.search(text[:index].rstrip())
        if word is None:  # a tuple or parenthesised expression: look further out
            continue
        if re.search(r"\b(block|network)\s+[A-Za-z_][A-Za-z0-9_]*\s*$", text[:index]):
            return None   # a definition's parameter list
        args = _split_args(text[index + 1:])
        given = [m.group(1) for a in args[:-1] if (m := _KEYWORD_ARG.match(a))]
        positional = sum(1 for a in args[:-1] if not _KEYWORD_ARG.match(a))
        current = _KEYWORD_ARG.match(args[-1])
        return CallContext(word.group(), positional, tuple(given), current.group(1) if current else None,
                           current is None and re.fullmatch(r"\s*[A-Za-z_0-9]*", args[-1]) is not None)
    return None


def _body_opener(before: str) -> str | None:
    """The word before the innermost open `{` (`train`, `residual`, a definition's `)` ...);
    None outside every body."""
    text = _blank_comments(before)
    braces = [index for char, index in _open_brackets(text) if char == "{"]
    if not braces:
        return None
    word = re.search(r"([A-Za-z_][A-Za-z0-9_]*|\))\s*$", text[:braces[-1]])
    return word.group(1) if word else ""


def _scope(before: str) -> list[str]:
    """The parameters of the definition the cursor is in, read from its header."""
    text = _blank_comments(before)
    braces = [index for char, index in _open_brackets(text) if char == "{"]
    if not braces:
        return []
    header = _HEADER.search(text[:braces[0]])
    if header is None or not header.group(3):
        return []
    return [m.group(1) for part in header.group(3).split(",") if (m := re.match(r"\s*([A-Za-z_]\w*)", part))]


def signatures(text: str, blocks: dict[str, S.Block]) -> dict[str, Signature]:
    """Every block's signature: those of this text as it is now, then those of `blocks` (the
    last analysis, which knows the `use`d files)."""
    found = {name: Signature(name, tuple((p.name, param_text(p)) for p in block.params),
                             f"block {block_signature(block)}")
             for name, block in blocks.items()}
    for match in _BLOCK.finditer(_blank_comments(text)):
        params = tuple((m.group(1), part.strip()) for part in (match.group(2) or "").split(",")
                       if (m := re.match(r"\s*([A-Za-z_]\w*)", part)))
        found[match.group(1)] = Signature(match.group(1), params,
                                          f"block {match.group(1)}({', '.join(p[1] for p in params)})")
    return found


def layer_signature(name: str) -> Signature | None:
    spec = lookup(name)
    if spec is None:
        return None
    return Signature(spec.name, tuple((p.name, layer_param_text(p.name, p.default)) for p in spec.params),
                     f"{signature(spec)}: PyTorch `{spec.module}`")


def _expression_items(before: str) -> list[types.CompletionItem]:
    names = [*_scope(before), *BUILTINS]
    return ([types.CompletionItem(n, kind=types.CompletionItemKind.Variable) for n in dict.fromkeys(names)]
            + [types.CompletionItem(n, kind=types.CompletionItemKind.Keyword) for n in LITERALS])


def completions(before: str, text: str, blocks: dict[str, S.Block]) -> list[types.CompletionItem]:
    """What may be typed at the cursor; `before` is the text up to it, `text` the whole document."""
    if re.search(r"->[^\n]*$", _blank_comments(before)):
        return _expression_items(before)  # a shape
    call = call_context(before)
    if call is not None:
        items = _expression_items(before)
        known = layer_signature(call.callee) or signatures(text, blocks).get(call.callee)
        if known is not None and call.naming:
            free = [(name, shown) for index, (name, shown) in enumerate(known.params)
                    if index >= call.positional and name not in call.keywords]
            items = [types.CompletionItem(f"{name}=", kind=types.CompletionItemKind.Property, detail=shown,
                                          insert_text=f"{name}=", sort_text=f"0{index}")
                     for index, (name, shown) in enumerate(free)] + items
        return items
    opener = _body_opener(before)
    if opener is None:
        return [types.CompletionItem(k, kind=types.CompletionItemKind.Keyword) for k in TOP_LEVEL]
    if opener == "train":
        return [types.CompletionItem(name, kind=types.CompletionItemKind.Property, insert_text=f"{name} = ")
                for name in SETTING_NAMES]
    statement_words = sorted(keywords() - set(TOP_LEVEL) - set(LITERALS))
    items = [types.CompletionItem(spec.name, kind=types.CompletionItemKind.Function, detail=signature(spec),
                                  documentation=f"PyTorch `{spec.module}`") for spec in LAYERS.values()]
    items += [types.CompletionItem(sig.name, kind=types.CompletionItemKind.Module, detail=sig.doc)
              for sig in signatures(text, blocks).values()]
    items += [types.CompletionItem(word, kind=types.CompletionItemKind.Keyword) for word in statement_words]
    return items


def signature_help(before: str, text: str, blocks: dict[str, S.Block]) -> types.SignatureHelp | None:
    """The signature of the layer or block whose arguments are being typed, with the parameter
    the cursor is on."""
    call = call_context(before)
    if call is None:
        return None
    known = layer_signature(call.callee) or signatures(text, blocks).get(call.callee)
    if known is None:
        return None
    label = f"{known.name}({', '.join(shown for _, shown in known.params)})"
    params, offset = [], len(known.name) + 1
    for _, shown in known.params:
        params.append(types.ParameterInformation(label=(offset, offset + len(shown))))
        offset += len(shown) + 2
    names = [name for name, _ in known.params]
    if call.current_keyword is not None:
        active = names.index(call.current_keyword) if call.current_keyword in names else None
    else:
        active = call.positional if call.positional < len(names) else None
    information = types.SignatureInformation(label, documentation=known.doc, parameters=params,
                                             active_parameter=active)
    return types.SignatureHelp([information], active_signature=0, active_parameter=active)

