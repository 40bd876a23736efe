"""The ``filter`` and ``orderBy`` of ``ImageService.List``.

``<field> <op> <value> [AND ...]`` with ``=``, ``!=``, ``IN`` and ``NOT IN``
over ``id``, ``name``, ``family`` and ``status``; values are quoted strings.
A bad expression is INVALID_ARGUMENT naming the field and what was wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.sim.yandex_gateway import YandexApiError, validation_error

#: fields a list filter may name (keys of the image's JSON)
FILTER_FIELDS = ("id", "name", "family", "status")
#: fields a list may be ordered by
ORDER_FIELDS = ("id", "name", "createdAt")


@dataclass(frozen=True)
class Condition:
    """One ``field [NOT] IN (values)`` test; ``=`` and ``!=`` are the one-value case."""

    field: str
    values: frozenset[str]
    negate: bool

    def matches(self, image: dict) -> bool:
        return (image.get(self.field, "") in self.values) != self.negate


def _tokenize_filter(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "\"'":
            j, chars = i + 1, []
            while j < len(text) and text[j] != ch:
                if text[j] == "\\" and j + 1 < len(text):
                    j += 1  # C-style escapes: \" \' \\
                chars.append(text[j])
                j += 1
            if j >= len(text):
                raise _filter_error(text, f"unterminated string starting at position {i}")
            tokens.append(("string", "".join(chars)))
            i = j + 1
        elif text.startswith("!=", i):
            tokens.append(("op", "!="))
            i += 2
        elif ch in "=(),":
            tokens.append(("op" if ch == "=" else "punct", ch))
            i += 1
        elif ch.isalpha() or ch == "_":
            j = i
            while j < len(text) and (text[j].isalnum() or text[j] in "_."):
                j += 1
            tokens.append(("word", text[i:j]))
            i = j
        else:
            raise _filter_error(text, f"unexpected character {ch!r} at position {i}")
    return tokens


def _filter_error(text: str, reason: str) -> YandexApiError:
    return validation_error([("filter", f"invalid expression {text!r}: {reason}")])


def parse_filter(text: str) -> tuple[Condition, ...]:
    """``<field> <op> <value> [AND ...]`` with ``=``, ``!=``, ``IN``, ``NOT IN``."""
    tokens = _tokenize_filter(text)
    conditions: list[Condition] = []
    pos = 0

    def take(kind: str | None = None, value: str | None = None, what: str = "") -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise _filter_error(text, f"expected {what or value or kind} at the end")
        token_kind, token_value = tokens[pos]
        if (kind and token_kind != kind) or (value and token_value.upper() != value):
            raise _filter_error(text, f"expected {what or value or kind}, got {token_value!r}")
        pos += 1
        return token_value

    while pos < len(tokens):
        name = take("word", what="a field name")
        if name not in FILTER_FIELDS:
            raise _filter_error(text, f"cannot filter by {name!r}; filterable fields: {', '.join(FILTER_FIELDS)}")
        negate = False
        kind, value = tokens[pos] if pos < len(tokens) else ("", "")
        if kind == "op":
            negate = take("op") == "!="
            values = [take("string", what="a quoted value")]
        else:
            if value.upper() == "NOT":
                take("word", "NOT")
                negate = True
            take("word", "IN", what="an operator (=, !=, IN, NOT IN)")
            take("punct", "(")
            values = [take("string", what="a quoted value")]
            while pos < len(tokens) and tokens[pos] == ("punct", ","):
                pos += 1
                values.append(take("string", what="a quoted value"))
            take("punct", ")")
        conditions.append(Condition(name, frozenset(values), negate))
        if pos < len(tokens):
            take("word", "AND")
            if pos >= len(tokens):
                raise _filter_error(text, "expected a condition after AND")
    return tuple(conditions)


def parse_order_by(text: str) -> tuple[str, bool]:
    """``"createdAt desc"`` -> ("createdAt", True); ``"id asc"`` when empty."""
    words = text.split()
    if not words:
        return "id", False
    if len(words) > 2 or words[0] not in ORDER_FIELDS or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
        raise validation_error([(
            "orderBy", f"must be '<field> [asc|desc]' with a field of {', '.join(ORDER_FIELDS)}, got {text!r}",
        )])
    return words[0], len(words) == 2 and words[1].lower() == "desc"


__all__ = ["Condition", "FILTER_FIELDS", "ORDER_FIELDS", "parse_filter", "parse_order_by"]
