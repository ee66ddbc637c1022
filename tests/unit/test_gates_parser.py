"""The gate expression language: what parses, its canonical text, and where errors point."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from release_trains.errors import GateExpressionError, InputError
from release_trains.gates_parser import (
    MAX_NAME_LENGTH,
    OPERATORS,
    Comparison,
    Expression,
    parse_expression,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "all_participants_quality >=80",
            Expression("all_participants_quality", Comparison(">=", 80.0)),
        ),
        (
            "all_participants_coverage >= 75%",
            Expression("all_participants_coverage", Comparison(">=", 75.0, percent=True)),
        ),
        ("no_open_critical_vulns", Expression("no_open_critical_vulns")),
        ("all_services_healthy", Expression("all_services_healthy")),
        (
            "performance_regression < 10%",
            Expression("performance_regression", Comparison("<", 10.0, True)),
        ),
        ("error_rate <= 0.5", Expression("error_rate", Comparison("<=", 0.5))),
        ("user_acceptance_tests_pass", Expression("user_acceptance_tests_pass")),
        (
            "user_acceptance_tests_pass == true",
            Expression("user_acceptance_tests_pass", Comparison("==", True)),
        ),
        ("feature_flag != false", Expression("feature_flag", Comparison("!=", False))),
        ("x>-3", Expression("x", Comparison(">", -3.0))),
        ("  x  <  10.25 % ", Expression("x", Comparison("<", 10.25, True))),
        ("svc.api-gw_2.p99 > 0", Expression("svc.api-gw_2.p99", Comparison(">", 0.0))),
        ("_private == 007", Expression("_private", Comparison("==", 7.0))),
    ],
)
def test_parses_examples(text: str, expected: Expression) -> None:
    assert parse_expression(text) == expected


def test_numbers_are_always_float() -> None:
    comparison = parse_expression("a >= 80").comparison
    assert comparison is not None
    assert type(comparison.value) is float
    assert type(Comparison(">=", 80).value) is float


def test_bool_and_number_comparisons_are_different_gates() -> None:
    # True == 1.0 in Python; the gates must still differ, in == and in hashing.
    assert parse_expression("a == true") != parse_expression("a == 1")
    assert parse_expression("a != false") != parse_expression("a != 0")
    assert len({parse_expression("a == true"), parse_expression("a == 1")}) == 2


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("all_participants_quality >=80", "all_participants_quality >= 80"),
        ("all_participants_coverage>=75 %", "all_participants_coverage >= 75%"),
        ("  no_open_critical_vulns  ", "no_open_critical_vulns"),
        ("performance_regression<10%", "performance_regression < 10%"),
        ("x <= 0.5", "x <= 0.5"),
        ("x >= -3", "x >= -3"),
        ("x >= -3.000", "x >= -3"),
        ("x == 80.0", "x == 80"),
        ("x > 0.00001", "x > 0.00001"),  # repr() would say 1e-05, which does not parse
        ("x < 100000000000000000000", "x < 100000000000000000000"),  # repr(): 1e+20
        ("x == -0", "x == 0"),
        ("flag==true", "flag == true"),
        ("flag != false", "flag != false"),
    ],
)
def test_canonical_text(text: str, canonical: str) -> None:
    assert str(parse_expression(text)) == canonical


@pytest.mark.parametrize(
    ("text", "column", "reason_part"),
    [
        ("", 1, "empty gate expression"),
        ("   ", 1, "empty gate expression"),
        ("a < ", 5, "missing value after '<'"),
        ("a >=", 5, "missing value after '>='"),
        ("a = 1", 3, "use '==' to compare"),
        ("a < 1 2", 7, "after the value"),
        ("a < 1 %%", 8, "unexpected '%' after the value"),
        ("a < 1e5", 6, "malformed number"),
        ("a < 1.", 7, "expected a digit after '.'"),
        ("a < 1.2.3", 8, "malformed number"),
        ("a < -", 6, "expected a digit after '-'"),
        ("a < - 3", 6, "expected a digit after '-'"),
        ("a < +3", 5, "'+'"),
        ("a < .5", 5, "must start with a digit"),
        ("a < true", 5, "goes only with '==' or '!='"),
        ("a == True", 6, "lowercase"),
        ("a == yes", 6, "expected a number, true or false"),
        ("a b", 3, "expected an operator or the end, found 'b'"),
        ("a (", 3, "unexpected character '('"),
        ("a\t< 1", 2, "control character U+0009"),
        ("a < 1\n", 6, "control character U+000A"),
        ("a \uff1c 1", 3, "non-ASCII character U+FF1C"),
        ("a.", 2, "must not end with '.'"),
        ("ab- < 1", 3, "must not end with '-'"),
        ("a.__class__", 3, "'__'"),
        ("true", 1, "expected a signal name"),
        ("< 3", 1, "expected a signal name, found '<'"),
        ("80 < a", 1, "expected a signal name"),
        ("!a", 1, "'!'"),
        ("a" * (MAX_NAME_LENGTH + 1), MAX_NAME_LENGTH + 1, "name longer than 100 characters"),
        ("a < " + "9" * 400, 5, "number out of range"),
        ("a" * 501, 501, "expression longer than 500 characters"),
    ],
)
def test_error_columns(text: str, column: int, reason_part: str) -> None:
    with pytest.raises(GateExpressionError) as info:
        parse_expression(text)
    assert info.value.column == column
    assert reason_part in info.value.reason
    assert info.value.expression == text
    assert f"column {column}:" in str(info.value)


def test_limits_are_inclusive() -> None:
    assert parse_expression("a" * MAX_NAME_LENGTH).subject == "a" * MAX_NAME_LENGTH
    padded = "a < 1" + " " * 495
    assert len(padded) == 500
    assert parse_expression(padded) == Expression("a", Comparison("<", 1.0))


@pytest.mark.parametrize("value", [None, 80, 1.5, True, b"a < 1", ["a"], {"a": 1}])
def test_rejects_non_strings(value: object) -> None:
    with pytest.raises(GateExpressionError) as info:
        parse_expression(value)  # type: ignore[arg-type]
    assert info.value.column == 1
    assert info.value.reason == "gate expression must be a string"


def test_errors_are_input_errors() -> None:
    with pytest.raises(InputError):
        parse_expression("a <")


@pytest.mark.parametrize(
    ("comparison", "actual", "expected"),
    [
        (Comparison(">=", 80.0), 80, True),
        (Comparison(">=", 80.0), 79.9, False),
        (Comparison("<", 10.0, percent=True), 9.5, True),
        (Comparison("!=", 0.5), 0.5, False),
        (Comparison("==", True), True, True),
        (Comparison("==", True), False, False),
        (Comparison("!=", False), True, True),
    ],
)
def test_holds(comparison: Comparison, actual: float | bool, expected: bool) -> None:
    assert comparison.holds(actual) is expected


@pytest.mark.parametrize(
    ("comparison", "actual"),
    [(Comparison("==", True), 1.0), (Comparison(">=", 1.0), True), (Comparison("<", 1.0), "0")],
)
def test_holds_refuses_mixed_kinds(comparison: Comparison, actual: object) -> None:
    with pytest.raises(TypeError):
        comparison.holds(actual)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("op", "value", "percent"),
    [("=", 1.0, False), ("<", True, False), ("==", True, True), ("<", float("inf"), False)],
)
def test_comparison_rejects_impossible_gates(op: str, value: float | bool, percent: bool) -> None:
    with pytest.raises(ValueError):
        Comparison(op, value, percent)


# --- properties -------------------------------------------------------------------------

_NAME_BODY = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"

names = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_.\-]{0,99}\Z").filter(
    lambda n: n[-1] not in ".-" and "__" not in n and n not in ("true", "false")
)
numbers = st.floats(allow_nan=False, allow_infinity=False)
comparisons = st.one_of(
    st.builds(Comparison, st.sampled_from(OPERATORS), numbers, st.booleans()),
    st.builds(Comparison, st.sampled_from(("==", "!=")), st.booleans()),
)
expressions = st.builds(Expression, names, st.none() | comparisons)


@given(st.text())
@example("a < " + "(" * 10_000)
@example("a < 1\x00")
def test_any_text_parses_or_raises_gate_error(text: str) -> None:
    try:
        result = parse_expression(text)
    except GateExpressionError as error:
        assert 1 <= error.column <= max(len(text), 500) + 1
    else:
        assert isinstance(result, Expression)


@given(st.text(alphabet=_NAME_BODY + " <>=!%", max_size=40))
def test_near_miss_text_parses_or_raises_gate_error(text: str) -> None:
    # Mostly-valid alphabet: reaches far deeper into the parser than arbitrary unicode.
    try:
        result = parse_expression(text)
    except GateExpressionError as error:
        assert 1 <= error.column <= len(text) + 1
    else:
        assert parse_expression(str(result)) == result


@given(expressions)
def test_canonical_text_round_trips(expression: Expression) -> None:
    assert parse_expression(str(expression)) == expression


@given(expressions, st.sampled_from(["", " ", "  "]))
def test_parsing_canonical_text_is_idempotent(expression: Expression, pad: str) -> None:
    # Re-space the canonical text so the parsed-from string is not already canonical.
    source = pad + str(expression).replace(" ", pad) + pad
    parsed = parse_expression(source)
    assert parse_expression(str(parsed)) == parsed
    assert parsed == expression
