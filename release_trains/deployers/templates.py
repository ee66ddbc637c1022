"""Argv and URL templates: `{service} {version} {previous_version} {train} {environment}`.

Only those exact tokens are replaced, by a regex over `{word}`; user text never goes through
str.format (which would evaluate `{0.__class__}`-style lookups) and never through a shell.
Every value that is substituted must be one short token (see VALUE), so a version such as
`1.0; touch /tmp/x` is refused before anything runs, even where no shell would read it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from urllib.parse import quote

from ..errors import InputError

FIELDS = ("service", "version", "previous_version", "train", "environment")
VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
_TOKEN = re.compile(r"\{(\w+)\}")

Values = Mapping[str, "str | None"]


def fields_used(templates: Iterable[str]) -> set[str]:
    """The fields the templates name; an unknown one raises InputError naming it."""
    used: set[str] = set()
    for text in templates:
        for name in _TOKEN.findall(text):
            if name not in FIELDS:
                known = ", ".join("{" + f + "}" for f in FIELDS)
                raise InputError(
                    f"unknown template field {{{name}}} in {text!r}; known fields: {known}"
                )
            used.add(name)
    return used


def render(text: str, values: Values, *, escape: Callable[[str], str] = str) -> str:
    """`text` with each `{field}` replaced by its checked value, passed through `escape`."""
    fields_used([text])

    def one(match: re.Match[str]) -> str:
        return escape(checked(match.group(1), values.get(match.group(1))))

    return _TOKEN.sub(one, text)


def render_argv(argv: Sequence[str], values: Values) -> list[str]:
    return [render(item, values) for item in argv]


def render_url(url: str, values: Values) -> str:
    # quote(safe="") so a value can never add a path segment, a query or a fragment.
    return render(url, values, escape=lambda v: quote(v, safe=""))


def checked(name: str, value: str | None) -> str:
    if value is None:
        what = "no previous version" if name == "previous_version" else f"no {name}"
        raise InputError(f"{what} known, but the template uses {{{name}}}")
    if not VALUE.fullmatch(value):
        raise InputError(
            f"refusing {name} {value!r}: template values must match {VALUE.pattern} "
            "(one token: letters, digits, '.', '_', '+', '-')"
        )
    return value
