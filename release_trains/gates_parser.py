"""Gate expressions: the one-line language people write in YAML to say when a train may go.

    expression := NAME [ OP value ] END          (spaces between tokens are optional)
    NAME       := [A-Za-z_][A-Za-z0-9_.-]*       (<= 100 chars, no '__', not ending in '.' or '-')
    OP         := '<' | '<=' | '>' | '>=' | '==' | '!='
    value      := NUMBER ['%'] | 'true' | 'false'   (true/false only with '==' and '!=')
    NUMBER     := ['-'] DIGITS ['.' DIGITS]

Gate text comes from files anyone can edit, so it is read by this hand-written lexer and
parser and never reaches eval, compile or ast. Every failure is a GateExpressionError that
names the 1-based column of the offending character; nothing else escapes parse_expression.
"""

from __future__ import annotations

import math
import operator
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from release_trains.errors import GateExpressionError

MAX_LENGTH = 500
MAX_NAME_LENGTH = 100
OPERATORS = ("<", "<=", ">", ">=", "==", "!=")
_EQUALITY = ("==", "!=")
_BOOLEANS = {"true": True, "false": False}
_COMPARE: dict[str, Callable[[float, float], object]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
# Explicit ASCII sets: str.isdigit()/isalpha() would let in '٣', '²' or fullwidth lookalikes.
_DIGITS = frozenset(string.digits)
_NAME_START = frozenset(string.ascii_letters + "_")
_NAME_CHARS = _NAME_START | _DIGITS | {".", "-"}
_HINTS = {
    "+": "a number must not start with '+'",
    ".": "a number must start with a digit, e.g. 0.5",
    "!": "unexpected character '!': use '!=' to compare, or 'name == false' to negate",
}


def _format_number(value: float) -> str:
    # The canonical text must parse back to the same float, and the grammar has no
    # exponents, so repr()'s '1e-05' or '1e+20' is spelled out positionally instead.
    if value.is_integer():
        return str(int(value))
    return format(Decimal(repr(value)), "f")


@dataclass(frozen=True, eq=False)
class Comparison:
    """The `OP value` half of a gate; `percent` records that the number was written with '%'."""

    op: str
    value: float | bool
    percent: bool = False

    def __post_init__(self) -> None:
        # Checked here too so a hand-built Comparison always has a canonical text that parses.
        if self.op not in OPERATORS:
            raise ValueError(f"unknown operator {self.op!r}")
        if isinstance(self.value, bool):
            if self.op not in _EQUALITY or self.percent:
                raise ValueError("true/false go only with '==' or '!=', and never with '%'")
            return
        object.__setattr__(self, "value", float(self.value))  # 80 -> 80.0: one kind of number
        if not math.isfinite(self.value):
            raise ValueError(f"value must be a finite number, not {self.value!r}")

    def _key(self) -> tuple[str, bool, float | bool, bool]:
        # bool is an int subclass (True == 1.0), so the kind is part of equality:
        # `x == true` and `x == 1` are different gates.
        return (self.op, isinstance(self.value, bool), self.value, self.percent)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Comparison):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def holds(self, actual: float | bool) -> bool:
        """Whether `actual OP value`. A percent gate compares the plain number (75% -> 75).

        Kinds must match (bool with bool, number with number); callers check a signal's
        kind first, so a mismatch is a programming error and raises TypeError.
        """
        if not isinstance(actual, (int, float)) or (
            isinstance(actual, bool) != isinstance(self.value, bool)
        ):
            raise TypeError(f"cannot compare {actual!r} with {self}")
        return bool(_COMPARE[self.op](actual, self.value))

    def __str__(self) -> str:
        if isinstance(self.value, bool):
            return f"{self.op} {'true' if self.value else 'false'}"
        return f"{self.op} {_format_number(self.value)}{'%' if self.percent else ''}"


@dataclass(frozen=True)
class Expression:
    """A parsed gate: `subject` alone means a boolean signal that must be true."""

    subject: str
    comparison: Comparison | None = None

    def __str__(self) -> str:
        if self.comparison is None:
            return self.subject
        return f"{self.subject} {self.comparison}"


class _Token(NamedTuple):
    kind: str  # "name", "number", "op", "percent" or "end"
    text: str
    column: int  # 1-based, as reported to the user


def _unexpected(char: str) -> str:
    code = ord(char)
    if code < 32 or code == 127:  # includes tab and newline: a gate is one line
        return f"control character U+{code:04X} is not allowed (a gate is one line)"
    if code > 127:  # named, not shown: lookalikes and bidi controls mislead when printed
        name = unicodedata.name(char, "unnamed")
        return f"non-ASCII character U+{code:04X} ({name}) is not allowed"
    return _HINTS.get(char, f"unexpected character {char!r}")


class _Parser:
    """Recursive descent over a lazily lexed token stream, so the leftmost error wins."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0  # index of the next character the lexer has not consumed
        self.ahead: _Token | None = None

    def fail(self, column: int, reason: str) -> GateExpressionError:
        return GateExpressionError(expression=self.text, column=column, reason=reason)

    def peek(self) -> _Token:
        if self.ahead is None:
            self.ahead = self._lex()
        return self.ahead

    def take(self) -> _Token:
        token, self.ahead = self.peek(), None
        return token

    def _lex(self) -> _Token:
        text, i = self.text, self.pos
        while i < len(text) and text[i] == " ":
            i += 1
        if i == len(text):
            kind, end = "end", i
        elif text[i] in _NAME_START:
            kind, end = "name", self._scan_name(i)
        elif text[i] in _DIGITS or text[i] == "-":
            kind, end = "number", self._scan_number(i)
        elif text[i] in "<>=" or text[i : i + 2] == "!=":
            kind, end = "op", i + (2 if text[i + 1 : i + 2] == "=" else 1)
        elif text[i] == "%":
            kind, end = "percent", i + 1
        else:
            raise self.fail(i + 1, _unexpected(text[i]))
        self.pos = end
        return _Token(kind, text[i:end], i + 1)

    def _scan_name(self, start: int) -> int:
        end = start
        while end < len(self.text) and self.text[end] in _NAME_CHARS:
            end += 1
        name = self.text[start:end]
        if len(name) > MAX_NAME_LENGTH:
            raise self.fail(
                start + MAX_NAME_LENGTH + 1, f"name longer than {MAX_NAME_LENGTH} characters"
            )
        if "__" in name:  # signal names never need it; it is how Python internals are spelled
            raise self.fail(start + name.index("__") + 1, "'__' is not allowed in a name")
        if name[-1] in ".-":
            raise self.fail(end, f"a name must not end with {name[-1]!r}")
        return end

    def _scan_digits(self, start: int, after: str) -> int:
        end = start
        while end < len(self.text) and self.text[end] in _DIGITS:
            end += 1
        if end == start:
            raise self.fail(start + 1, f"malformed number: expected a digit after {after!r}")
        return end

    def _scan_number(self, start: int) -> int:
        text = self.text
        # Only a '-' start can lack digits, so "after '-'" is the only reason that can show.
        end = self._scan_digits(start + 1 if text[start] == "-" else start, "-")
        if end < len(text) and text[end] == ".":
            end = self._scan_digits(end + 1, ".")
        # '1e5', '0x10', '1_000', '1.2.3', '80abc': plain decimals only, so any name
        # character glued to the digits makes the whole number malformed.
        if end < len(text) and text[end] in _NAME_CHARS:
            hint = "write plain decimals like 80 or 0.5"
            raise self.fail(end + 1, f"malformed number: unexpected {text[end]!r}; {hint}")
        return end

    def expression(self) -> Expression:
        subject = self.take()
        if subject.kind == "end":
            raise self.fail(1, "empty gate expression")
        if subject.kind != "name" or subject.text in _BOOLEANS:
            raise self.fail(subject.column, f"expected a signal name, found {subject.text!r}")
        op = self.take()
        if op.kind == "end":
            return Expression(subject.text)
        if op.text == "=":
            raise self.fail(op.column, "use '==' to compare")
        if op.kind != "op":
            raise self.fail(op.column, f"expected an operator or the end, found {op.text!r}")
        comparison = self.comparison(op)
        extra = self.take()
        if extra.kind != "end":
            raise self.fail(extra.column, f"unexpected {extra.text!r} after the value")
        return Expression(subject.text, comparison)

    def comparison(self, op: _Token) -> Comparison:
        token = self.take()
        if token.kind == "end":
            raise self.fail(token.column, f"missing value after {op.text!r}")
        if token.kind == "number":
            value = float(token.text)
            if not math.isfinite(value):
                raise self.fail(token.column, "number out of range")
            percent = self.peek().kind == "percent"
            if percent:
                self.take()
            return Comparison(op.text, value, percent)
        if token.text in _BOOLEANS:
            if op.text not in _EQUALITY:
                reason = f"{token.text} goes only with '==' or '!=', not {op.text!r}"
                raise self.fail(token.column, reason)
            return Comparison(op.text, _BOOLEANS[token.text])
        if token.text.lower() in _BOOLEANS:
            raise self.fail(token.column, f"booleans are lowercase: write {token.text.lower()!r}")
        reason = f"expected a number, true or false after {op.text!r}, found {token.text!r}"
        raise self.fail(token.column, reason)


def parse_expression(text: str) -> Expression:
    """Parse one gate; raise GateExpressionError(expression, column, reason) if malformed."""
    if not isinstance(text, str):  # YAML hands us ints, None, lists...
        raise GateExpressionError(f"<{type(text).__name__}>", 1, "gate expression must be a string")
    if len(text) > MAX_LENGTH:  # bounds the work done on hostile input
        raise GateExpressionError(
            text, MAX_LENGTH + 1, f"expression longer than {MAX_LENGTH} characters"
        )
    return _Parser(text).expression()
