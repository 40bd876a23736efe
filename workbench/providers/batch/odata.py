"""The OData ``$filter`` subset for Batch "list supported images", both ways.

The driver *builds* filters with this module and sends the rendered text; the
simulator *parses* that text back into the same tree and evaluates it. One
module for both sides keeps them from drifting apart.

The subset: ``eq`` and ``ne`` comparisons of a property with a string literal,
combined with ``and`` / ``or`` (``and`` binds tighter) and parentheses::

    osType eq 'linux' and (imageReference/publisher eq 'Canonical' or verificationType ne 'unverified')

String literals are single-quoted; a quote inside one is doubled (``'O''Brien'``).

    >>> from workbench.providers.batch.odata import os_type, publisher
    >>> str(os_type.eq("linux") & publisher.ne("O'Brien"))
    "osType eq 'linux' and imageReference/publisher ne 'O''Brien'"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Union


class Property(str, Enum):
    """The image properties a supported-images filter may compare."""

    OS_TYPE = "osType"
    VERIFICATION_TYPE = "verificationType"
    NODE_AGENT_SKU_ID = "nodeAgentSKUId"
    PUBLISHER = "imageReference/publisher"
    OFFER = "imageReference/offer"
    SKU = "imageReference/sku"

    def __str__(self) -> str:
        return self.value


class Operator(str, Enum):
    EQ = "eq"
    NE = "ne"

    def __str__(self) -> str:
        return self.value


#: Properties whose values are an enumeration, and the values they allow.
ENUM_VALUES: dict[Property, tuple[str, ...]] = {
    Property.OS_TYPE: ("linux", "windows"),
    Property.VERIFICATION_TYPE: ("verified", "unverified"),
}

_PROPERTY_NAMES = ", ".join(p.value for p in Property)


def _check_enum_value(prop: Property, value: str) -> str | None:
    """Why ``value`` is not allowed for ``prop``, or None if it is."""
    allowed = ENUM_VALUES.get(prop)
    if allowed is not None and value not in allowed:
        choices = " or ".join(f"'{v}'" for v in allowed)
        return f"{prop.value} must be {choices}, got {quote(value)}"
    return None


# -- the tree -------------------------------------------------------------------


class _Node:
    """Operators shared by every node: ``a & b``, ``a | b``, ``str(a)``."""

    __slots__ = ()

    def __and__(self, other: "Expr") -> "And":
        return And((self, other))  # type: ignore[arg-type]

    def __or__(self, other: "Expr") -> "Or":
        return Or((self, other))  # type: ignore[arg-type]

    def __str__(self) -> str:
        return render(self)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Comparison(_Node):
    property: Property
    op: Operator
    value: str

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "property", Property(self.property))
        except ValueError:
            raise ValueError(f"property: must be one of {_PROPERTY_NAMES}, got {self.property!r}") from None
        try:
            object.__setattr__(self, "op", Operator(self.op))
        except ValueError:
            raise ValueError(f"op: must be 'eq' or 'ne', got {self.op!r}") from None
        if not isinstance(self.value, str):
            raise TypeError(f"value: {self.property.value} compares with a string, got {type(self.value).__name__}")
        problem = _check_enum_value(self.property, self.value)
        if problem:
            raise ValueError(f"value: {problem}")


def _flatten(kind: type, operands: tuple) -> tuple:
    # ``a and (b and c)`` is the same filter as ``a and b and c``: keep one
    # canonical n-ary form so that build -> render -> parse gives an equal tree.
    flat: list = []
    for operand in operands:
        if isinstance(operand, kind):
            flat.extend(operand.operands)
        elif isinstance(operand, (Comparison, And, Or)):
            flat.append(operand)
        else:
            raise TypeError(f"operands: expected filter expressions, got {type(operand).__name__}")
    if len(flat) < 2:
        raise ValueError(f"operands: '{kind.__name__.lower()}' needs at least two operands")
    return tuple(flat)


@dataclass(frozen=True, slots=True)
class And(_Node):
    operands: tuple["Expr", ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "operands", _flatten(And, tuple(self.operands)))


@dataclass(frozen=True, slots=True)
class Or(_Node):
    operands: tuple["Expr", ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "operands", _flatten(Or, tuple(self.operands)))


Expr = Union[Comparison, And, Or]


# -- building -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FilterField:
    """One filterable property: ``os_type.eq("linux")``, ``sku.ne("7.1")``."""

    property: Property

    def eq(self, value: str) -> Comparison:
        return Comparison(self.property, Operator.EQ, value)

    def ne(self, value: str) -> Comparison:
        return Comparison(self.property, Operator.NE, value)


os_type = FilterField(Property.OS_TYPE)
verification_type = FilterField(Property.VERIFICATION_TYPE)
node_agent_sku_id = FilterField(Property.NODE_AGENT_SKU_ID)
publisher = FilterField(Property.PUBLISHER)
offer = FilterField(Property.OFFER)
sku = FilterField(Property.SKU)


def field(name: str | Property) -> FilterField:
    """The filter field for a property name such as ``"imageReference/sku"``."""
    try:
        return FilterField(Property(name))
    except ValueError:
        raise ValueError(f"property: must be one of {_PROPERTY_NAMES}, got {name!r}") from None


def all_of(*exprs: Expr) -> Expr:
    """``a and b and ...`` (a single expression is returned as is)."""
    return exprs[0] if len(exprs) == 1 else And(exprs)


def any_of(*exprs: Expr) -> Expr:
    """``a or b or ...`` (a single expression is returned as is)."""
    return exprs[0] if len(exprs) == 1 else Or(exprs)


# -- rendering ------------------------------------------------------------------


def quote(value: str) -> str:
    """An OData string literal: single quotes, inner quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def render(expr: Expr) -> str:
    """The exact ``$filter`` text, with only the parentheses the tree needs."""
    if isinstance(expr, Comparison):
        return f"{expr.property.value} {expr.op.value} {quote(expr.value)}"
    if isinstance(expr, And):
        # ``and`` binds tighter than ``or``: an ``or`` inside an ``and`` needs parentheses.
        return " and ".join(f"({render(o)})" if isinstance(o, Or) else render(o) for o in expr.operands)
    if isinstance(expr, Or):
        return " or ".join(render(o) for o in expr.operands)
    raise TypeError(f"not a filter expression: {type(expr).__name__}")


# -- parsing --------------------------------------------------------------------


class FilterSyntaxError(ValueError):
    """A ``$filter`` outside the supported subset; names where and what was expected."""

    def __init__(self, text: str, position: int, expected: str, found: str) -> None:
        self.text = text
        self.position = position
        self.expected = expected
        self.found = found
        super().__init__(f"$filter: at position {position}: expected {expected}, found {found}")


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<string>'(?:[^']|'')*')
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*(?:/[A-Za-z_][A-Za-z0-9_.]*)*)
  | (?P<other>[^\s()']+)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # lparen, rparen, string, word, other, end
    text: str
    position: int

    def describe(self) -> str:
        if self.kind == "end":
            return "end of filter"
        return f"{self.text!r}" if self.kind != "string" else f"string {self.text}"


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:  # only an unterminated string literal gets here
            raise FilterSyntaxError(text, position, "a closing quote for the string starting here", "end of filter")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group(), position))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    """Recursive descent over: or := and ('or' and)*; and := primary ('and' primary)*;
    primary := '(' or ')' | property ('eq'|'ne') string."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def _fail(self, expected: str, token: _Token | None = None) -> FilterSyntaxError:
        token = token or self.current
        return FilterSyntaxError(self.text, token.position, expected, token.describe())

    def _keyword(self, word: str) -> bool:
        token = self.current
        if token.kind == "word" and token.text == word:
            self.index += 1
            return True
        return False

    def parse(self) -> Expr:
        expr = self._or()
        if self.current.kind != "end":
            raise self._fail("'and', 'or' or end of filter")
        return expr

    def _or(self) -> Expr:
        operands = [self._and()]
        while self._keyword("or"):
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def _and(self) -> Expr:
        operands = [self._primary()]
        while self._keyword("and"):
            operands.append(self._primary())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def _primary(self) -> Expr:
        token = self.current
        if token.kind == "lparen":
            self.index += 1
            expr = self._or()
            if self.current.kind != "rparen":
                raise self._fail("'and', 'or' or ')'")
            self.index += 1
            return expr
        return self._comparison()

    def _comparison(self) -> Comparison:
        token = self.current
        if token.kind != "word" or token.text in ("and", "or", "eq", "ne"):
            raise self._fail(f"a property name ({_PROPERTY_NAMES}) or '('")
        try:
            prop = Property(token.text)
        except ValueError:
            raise self._fail(f"a property name ({_PROPERTY_NAMES})") from None
        self.index += 1

        op_token = self.current
        if op_token.kind != "word" or op_token.text not in ("eq", "ne"):
            raise self._fail("'eq' or 'ne'")
        self.index += 1

        value_token = self.current
        if value_token.kind != "string":
            raise self._fail("a string literal in single quotes")
        self.index += 1
        value = value_token.text[1:-1].replace("''", "'")
        problem = _check_enum_value(prop, value)
        if problem:
            allowed = " or ".join(f"'{v}'" for v in ENUM_VALUES[prop])
            raise FilterSyntaxError(self.text, value_token.position, f"{allowed} for {prop.value}", value_token.text)
        return Comparison(prop, Operator(op_token.text), value)


def parse_filter(text: str) -> Expr:
    """The tree of a ``$filter`` text; raises FilterSyntaxError outside the subset."""
    return _Parser(text).parse()


# -- evaluating -----------------------------------------------------------------

#: image (wire JSON, camelCase keys) -> whether it matches
Predicate = Callable[[Mapping[str, Any]], bool]


def _getter(prop: Property) -> Callable[[Mapping[str, Any]], Any]:
    head, _, tail = prop.value.partition("/")
    if not tail:
        return lambda image: image.get(head)
    return lambda image: (image.get(head) or {}).get(tail)


def compile_filter(expr: Expr) -> Predicate:
    """A fast predicate for ``expr`` (closures, no tree walk per image)."""
    if isinstance(expr, Comparison):
        get = _getter(expr.property)
        value = expr.value
        if expr.op is Operator.EQ:
            return lambda image: get(image) == value
        # OData: a missing (null) property is "not equal" to any string.
        return lambda image: get(image) != value
    if isinstance(expr, And):
        parts = [compile_filter(o) for o in expr.operands]
        return lambda image: all(part(image) for part in parts)
    if isinstance(expr, Or):
        parts = [compile_filter(o) for o in expr.operands]
        return lambda image: any(part(image) for part in parts)
    raise TypeError(f"not a filter expression: {type(expr).__name__}")


def matches(expr: Expr, image: Mapping[str, Any]) -> bool:
    return compile_filter(expr)(image)


__all__ = [
    "Property", "Operator", "ENUM_VALUES", "Comparison", "And", "Or", "Expr", "FilterField",
    "os_type", "verification_type", "node_agent_sku_id", "publisher", "offer", "sku", "field",
    "all_of", "any_of", "quote", "render", "FilterSyntaxError", "parse_filter", "compile_filter",
    "matches", "Predicate",
]
