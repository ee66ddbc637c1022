"""Must reject: hostile or malformed gate text fails with GateExpressionError and runs nothing.

In the spirit of simpleeval's tests/test_security.py. Gate text comes from YAML files that
anyone with repository access can edit, so every string below must be refused by the parser
itself: no Python evaluation, no shell, no partial acceptance of a valid-looking prefix.
"""

from __future__ import annotations

import builtins
from pathlib import Path

import pytest

from release_trains import gates_parser
from release_trains.errors import GateExpressionError
from release_trains.gates_parser import parse_expression

MARKER = "{marker}"  # replaced by a path under tmp_path in test_hostile_text_runs_nothing

HOSTILE = [
    # Python code
    f"__import__('os').system('touch {MARKER}')",
    f"a < 1 __import__('os').system('touch {MARKER}')",
    "open('/etc/passwd')",
    "print(1)",
    "lambda: 1",
    "a.__class__",
    "a.__class__.__mro__",
    "__builtins__",
    "getattr(a, 'b')",
    "a[0] > 1",
    "a if b else c",
    "a < 1 or 1",
    "a < 1 and b",
    "not a",
    "a in [1]",
    "-a",
    # shell and template injection
    f"x; touch {MARKER}",
    "x; rm -rf /",
    f"a < 1 && touch {MARKER}",
    f"a < 1 || touch {MARKER}",
    f"a < 1 | tee {MARKER}",
    f"a < 1 > {MARKER}",
    "${HOME}",
    "$(id)",
    "`id`",
    "{{7*7}}",
    "<script>alert(1)</script>",
    "a < 1; DROP TABLE trains;--",
    "a < 1 # comment",
    "a < 1 -- comment",
    # numbers the grammar does not have
    "a < 1e309",
    "a < -1e5",
    "a < 0x10",
    "a < 0b101",
    "a < 0o17",
    "a < 1_000",
    "a < 1j",
    "a < +1",
    "a < .5",
    "a < 1.",
    "a < 1.5.2",
    "a < 1,2",
    "a < nan",
    "a < inf",
    "a < -inf",
    "a < " + "9" * 400,
    # values that are not values
    "a < 'str'",
    'a < "1"',
    "a < [1]",
    "a < {}",
    "a < None",
    "a == True",
    "a == tru",
    "a < true",
    "a >= false",
    "a == true%",
    "a == false false",
    # operators and structure
    "a >= 80 %%",
    "a < 1%%",
    "a >== 3",
    "a<1>2",
    "a < 1 < 2",
    "!a",
    "a = 1",
    "a = = 1",
    "a <> 1",
    "a => 1",
    "a =< 1",
    "a =~ /x/",
    "a <",
    "a ==",
    "< 1",
    "80 < a",
    "true",
    "a < \\x31",
    "",
    "   ",
    # names
    "a.",
    "a-",
    "a" * 101,
    # unicode lookalikes and invisible characters
    "a \uff1c 1",  # fullwidth less-than
    "\uff41",  # fullwidth a
    "a < \u0663",  # arabic-indic digit three
    "a < \u00b2",  # superscript two
    "a\u202e < 1",  # right-to-left override
    "a\u200b",  # zero-width space
    "\ufeffa",  # byte order mark
    "a < 1\ufeff",
    "\ud800",  # lone surrogate
    # control characters: a gate is one line
    "a\x00",
    "a < 1\x00; rm -rf /",
    "a\n< 1",
    "a < 1\nb",
    "a\t< 1",
    "a < 1\r\nb",
    "a < 1\x7f",
    "a < 1\x1b[2J",
    # size
    "a" * 10_000,
    "(" * 10_000 + "a" + ")" * 10_000,
    "(" * 200 + "a" + ")" * 200,
    "a < " + "1" * 497,
]


def _id(text: str) -> str:
    return ascii(text)[:40]


@pytest.mark.parametrize("text", HOSTILE, ids=[_id(t) for t in HOSTILE])
def test_must_reject(text: str) -> None:
    with pytest.raises(GateExpressionError) as info:
        parse_expression(text)
    assert 1 <= info.value.column <= min(len(text), 500) + 1
    assert info.value.expression == text


def test_there_are_enough_hostile_strings() -> None:
    assert len(HOSTILE) >= 40
    assert len(set(HOSTILE)) == len(HOSTILE)


def test_hostile_text_runs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "pwned-gates-test"
    calls: list[str] = []

    def refuse(name: str) -> object:
        def guard(*args: object, **kwargs: object) -> object:
            calls.append(name)
            raise AssertionError(f"the gate parser called {name}")

        return guard

    # Any route to the interpreter or a new import while parsing is a failure.
    for name in ("eval", "exec", "compile", "__import__"):
        monkeypatch.setattr(builtins, name, refuse(name))
    rejected = 0
    for text in HOSTILE:
        try:
            parse_expression(text.replace(MARKER, str(marker)))
        except GateExpressionError:
            rejected += 1
    monkeypatch.undo()
    assert calls == []
    assert rejected == len(HOSTILE)
    assert not marker.exists()


def test_module_source_has_no_evaluator() -> None:
    source = Path(gates_parser.__file__).read_text(encoding="utf-8")
    for forbidden in ("eval(", "exec(", "compile(", "import ast", "from ast", "__import__"):
        assert forbidden not in source, forbidden
