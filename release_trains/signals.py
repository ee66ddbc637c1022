"""Where gate and trigger values come from: config `release_trains.signals` (and a service's
own `release.signals`).

Sources (the first of these keys a spec has wins):
- `value`: a static value.
- `file` (+ `path` into a JSON/YAML document).
- `command: [argv...]`: run without a shell (deployers/process.run); exit 0 required. Its
  output (stderr is merged into stdout by the runner) is JSON dug into with `path` when
  `path` is given, otherwise its last non-empty line is the value.
- `http_json: URL` (+ `path`): GET, JSON body, dig `path`.
- `prometheus: {url, query}`: an instant query against the Prometheus HTTP API; the result
  must be exactly one series (or a scalar).
- `prometheus: {metrics_url, metric, labels}`: one sample of a service's own /metrics page.

Live sources take `timeout` (default 5 s: the whole read, for an HTTP source its connect,
headers and body together) and their URLs, argv, PromQL query and label values
may use the template fields of deployers/templates.py (`{service}`, ...) from `fields`.
HTTP sources send `headers`, whose `${VAR}` are expanded from the environment; the expanded
values are secrets, scrubbed from every error text (see deployers/http.py). Bodies are read
through deployers/http_transport.py up to 1 MiB (a /metrics page up to 16 MiB); a larger one
is no value ("body is larger than ..."), as is a command's output over 1 MiB.

A read never raises: a value that cannot be had is a Reading with `value=None` and the reason
in `error`, which gates turn into `unknown`.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import CatalogError, InputError

if TYPE_CHECKING:
    from .deployers.http_transport import HttpReply

SignalValue = float | bool

DEFAULT_TIMEOUT_S = 5.0
# A read has nothing to clean up, and a gate should not wait the deployers' 5 s grace for a
# probe that ignores SIGTERM: it gets 1 s, then the process group is SIGKILLed.
_GRACE_S = 1.0
_MAX_OUTPUT = 1024 * 1024  # a command's output: the value or JSON document it prints
_SHOWN_SERIES = 5  # label sets listed when a metric is ambiguous
MAX_ERROR_CHARS = 1000  # a failed read's reason, wherever it comes from (see read_signal)


@dataclass(frozen=True)
class Reading:
    name: str
    value: SignalValue | None
    source: str  # where it came from, for evidence: "static", "file analysis/signals/uat.json"
    error: str | None = None


# The event a run records for each reading of a service's signals once it is released; its
# message is {"name", "value", "source"} (and "error" when the read failed) as JSON.
SIGNAL_EVENT = "signal"


def service_signal_specs(
    config_signals: Mapping[str, Any], own: Any
) -> dict[str, Mapping[str, Any]]:
    """Configured signals that measure a service (`error_rate`, `latency*`); the service's
    own `release.signals` win over config ones of the same name."""
    specs = {**config_signals, **(own if isinstance(own, Mapping) else {})}
    return {
        n: s
        for n, s in specs.items()
        if (n == "error_rate" or n.startswith("latency")) and isinstance(s, Mapping)
    }


def reading_event(reading: Reading) -> str:
    """The message of a SIGNAL_EVENT for `reading`."""
    doc: dict[str, Any] = {"name": reading.name, "value": reading.value, "source": reading.source}
    if reading.error:
        doc["error"] = reading.error
    return json.dumps(doc, ensure_ascii=False, default=str)


def read_signal(
    name: str,
    spec: Mapping[str, Any],
    *,
    root: Path,
    fields: Mapping[str, str] | None = None,
) -> Reading:
    """Read one configured signal now; `fields` fill `{service}`-style templates."""
    reading = _read(name, spec, root=root, fields=fields)
    error = reading.error
    if error is not None and len(error) > MAX_ERROR_CHARS:
        # The reason may quote what a live source sent (a Prometheus error text, label
        # values, a command's last line): it goes into gate details, plans and the state
        # store, so it is cut here, once for every source.
        cut = f"{error[:MAX_ERROR_CHARS]}... [{len(error) - MAX_ERROR_CHARS} chars cut]"
        return Reading(reading.name, reading.value, reading.source, cut)
    return reading


def _read(
    name: str, spec: Mapping[str, Any], *, root: Path, fields: Mapping[str, str] | None
) -> Reading:
    if "value" in spec:
        return _reading(name, spec["value"], "static value")
    if "file" in spec:
        return _from_file(name, spec, root=root)
    for kind, reader in _LIVE.items():
        if kind in spec:
            try:
                if kind == "command":  # its executable resolves against the root
                    return _from_command(name, spec, dict(fields or {}), root=root)
                return reader(name, spec, dict(fields or {}))
            except (InputError, ValueError) as e:
                # A bad template value, an unset ${VAR}, a malformed spec: the signal cannot
                # be read, which is `unknown` like any other failed read. InputError messages
                # name variables, never their values.
                return Reading(name, None, f"{kind} {_describe(spec[kind])}", str(e))
    kinds = ", ".join(sorted(spec))
    return Reading(name, None, kinds, f"signal source {kinds!r} is not supported")


def read_all(
    specs: Mapping[str, Mapping[str, Any]],
    *,
    root: Path,
    fields: Mapping[str, str] | None = None,
) -> dict[str, Reading]:
    """Every configured signal, read now, one after the other."""
    return {name: read_signal(name, spec, root=root, fields=fields) for name, spec in specs.items()}


def _from_file(name: str, spec: Mapping[str, Any], *, root: Path) -> Reading:
    from .yaml_io import load_file

    path = Path(spec["file"])
    path = path if path.is_absolute() else root / path
    source = f"file {spec['file']}"
    try:
        doc = load_file(path)
    except CatalogError as e:
        return Reading(name, None, source, str(e))
    try:
        value = dig(doc, spec.get("path", ""))
    except LookupError as e:
        return Reading(name, None, source, f"{spec.get('path')!r} not found in {spec['file']}: {e}")
    return _reading(name, value, source)


def _from_command(
    name: str, spec: Mapping[str, Any], values: Mapping[str, str], *, root: Path | None = None
) -> Reading:
    from .deployers.process import run
    from .deployers.templates import render_argv
    from .executables import resolve_argv

    argv = spec["command"]
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise InputError("`command` must be a non-empty list of strings (an argv, no shell)")
    rendered = resolve_argv(render_argv(argv, values), root)
    source = f"command {shlex.join(rendered)}"
    timeout_s = _timeout(spec)
    # The runner keeps the last _MAX_OUTPUT bytes; a document that was cut is no value.
    result = run(rendered, timeout_s=timeout_s, grace_s=_GRACE_S, keep_bytes=_MAX_OUTPUT)
    if not result.ok:
        return Reading(name, None, source, result.reason(timeout_s))
    if result.cut_bytes:
        return Reading(name, None, source, f"output is larger than {_MAX_OUTPUT} bytes")
    output = result.lines
    if "path" not in spec:
        last = next((line for line in reversed(output) if line.strip()), "")
        if not last:
            return Reading(name, None, source, "exit 0 but no output")
        return _reading(name, last, source)
    try:
        doc = json.loads("\n".join(output))
    except ValueError as e:
        return Reading(name, None, source, f"output is not JSON: {e}")
    return _dug(name, doc, spec["path"], source, where="the output")


def _from_http_json(name: str, spec: Mapping[str, Any], values: Mapping[str, str]) -> Reading:
    from .deployers.http import expand_headers, redact
    from .deployers.templates import render_url

    url = render_url(spec["http_json"], values)
    source = f"http_json {url}"
    headers, secrets = expand_headers(spec.get("headers") or {})
    got = _get(url, headers=headers, timeout_s=_timeout(spec))
    if got.error is not None:
        return Reading(name, None, source, redact(f"GET {url}: {got.error}", secrets))
    if not 200 <= got.status < 300:
        why = f"GET {url} -> {got.status}{got.snippet}"
        return Reading(name, None, source, redact(why, secrets))
    try:
        doc = json.loads(got.body)
    except ValueError:
        why = f"GET {url}: body is not JSON{got.snippet}"
        return Reading(name, None, source, redact(why, secrets))
    return _dug(name, doc, spec.get("path", ""), source, where="the response")


def _from_prometheus(name: str, spec: Mapping[str, Any], values: Mapping[str, str]) -> Reading:
    prom = spec["prometheus"]
    if not isinstance(prom, Mapping):
        raise InputError("`prometheus` must be a mapping: {url, query} or {metrics_url, metric}")
    if prom.get("url") and prom.get("query"):
        return _prometheus_query(name, spec, prom, values)
    if prom.get("metrics_url") and prom.get("metric"):
        return _metrics_page(name, spec, prom, values)
    raise InputError(
        "`prometheus` needs either `url` and `query` (a Prometheus server) or `metrics_url` "
        "and `metric` (a service's /metrics page)"
    )


def _prometheus_query(
    name: str, spec: Mapping[str, Any], prom: Mapping[str, Any], values: Mapping[str, str]
) -> Reading:
    from urllib.parse import urlencode

    from .deployers.http import expand_headers, redact
    from .deployers.templates import render, render_url

    base = render_url(prom["url"], values).rstrip("/")
    # Field values are single tokens (templates.VALUE): they cannot close a PromQL string.
    query = render(prom["query"], values)
    source = f"prometheus {base} {query}"
    url = f"{base}/api/v1/query?{urlencode({'query': query})}"
    headers, secrets = expand_headers(spec.get("headers") or {})
    got = _get(url, headers=headers, timeout_s=_timeout(spec))

    def unknown(why: str) -> Reading:
        return Reading(name, None, source, redact(why, secrets))

    if got.error is not None:
        return unknown(f"GET {base}/api/v1/query: {got.error}")
    try:
        doc = json.loads(got.body)
    except ValueError:
        doc = None
    # Prometheus answers a bad query with 400/422 and a JSON error: that text is the reason.
    if isinstance(doc, dict) and doc.get("status") == "error":
        kind = doc.get("errorType")
        return unknown(f"prometheus error{f' ({kind})' if kind else ''}: {doc.get('error')}")
    if not 200 <= got.status < 300:
        return unknown(f"GET {base}/api/v1/query -> {got.status}{got.snippet}")
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, dict) or doc.get("status") != "success":
        return unknown(f"not a Prometheus API answer{got.snippet}")
    value, why = _query_value(data)
    if why is not None:
        return unknown(why)
    return _reading(name, value, source)


def _query_value(data: Mapping[str, Any]) -> tuple[Any, str | None]:
    """The one sample value of an instant query's `data`, or why there is none."""
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        sample = result
    elif kind == "vector":
        if not isinstance(result, list):
            return None, "vector result is not a list"
        if not result:
            return None, "query returned no series"
        if len(result) > 1:
            return None, f"query returned {len(result)} series; aggregate it (e.g. sum(...))"
        sample = result[0].get("value") if isinstance(result[0], dict) else None
    else:
        return None, f"query returned a {kind} result; only an instant vector or a scalar is read"
    if not isinstance(sample, list) or len(sample) != 2:
        return None, f"sample {sample!r} is not [timestamp, value]"
    return sample[1], None


def _metrics_page(
    name: str, spec: Mapping[str, Any], prom: Mapping[str, Any], values: Mapping[str, str]
) -> Reading:
    from prometheus_client.parser import text_string_to_metric_families

    from .deployers.http import expand_headers, redact
    from .deployers.http_transport import MAX_METRICS_BODY_BYTES
    from .deployers.templates import render, render_url

    url = render_url(prom["metrics_url"], values)
    metric = str(prom["metric"])
    wanted = {str(k): render(str(v), values) for k, v in (prom.get("labels") or {}).items()}
    source = f"metrics {url} {metric}{_labels(wanted)}"
    headers, secrets = expand_headers(spec.get("headers") or {})
    got = _get(url, headers=headers, timeout_s=_timeout(spec), max_body=MAX_METRICS_BODY_BYTES)

    def unknown(why: str) -> Reading:
        return Reading(name, None, source, redact(why, secrets))

    if got.error is not None:
        return unknown(f"GET {url}: {got.error}")
    if not 200 <= got.status < 300:
        return unknown(f"GET {url} -> {got.status}{got.snippet}")
    named: list[dict[str, str]] = []  # label sets of samples with the right name
    found: list[tuple[dict[str, str], float]] = []  # ... that also have every wanted label
    family_samples: set[str] = set()  # `metric` is a histogram/summary: its samples' names
    try:
        for family in text_string_to_metric_families(got.body.decode("utf-8", "replace")):
            for sample in family.samples:
                # The parser names a counter `requests` and its sample `requests_total`:
                # either name picks that sample.
                total = family.type == "counter" and family.name == metric
                if sample.name != metric and not (total and sample.name == f"{metric}_total"):
                    if family.name == metric:
                        family_samples.add(sample.name)
                    continue
                named.append(sample.labels)
                if all(sample.labels.get(k) == v for k, v in wanted.items()):
                    found.append((sample.labels, sample.value))
    except ValueError as e:
        return unknown(f"GET {url}: not a Prometheus text page: {e}")
    if len(found) == 1:
        return _reading(name, found[0][1], source)
    if found:
        seen = ", ".join(_labels(ls) or "{}" for ls, _ in found[:_SHOWN_SERIES])
        return unknown(f"{len(found)} samples match; add labels to pick one of: {seen}")
    if named:
        seen = ", ".join(_labels(ls) or "{}" for ls in named[:_SHOWN_SERIES])
        return unknown(
            f"no sample of {metric} has labels {_labels(wanted)} on {url} (seen: {seen})"
        )
    if family_samples:
        names = ", ".join(sorted(family_samples))
        return unknown(f"{metric} has no sample of its own on {url}; name one of: {names}")
    return unknown(f"no metric {metric}{_labels(wanted)} on {url}")


def _labels(labels: Mapping[str, str]) -> str:
    """`{k="v",...}` as Prometheus writes label sets ("" for none)."""
    if not labels:
        return ""
    return "{" + ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items())) + "}"


def _get(
    url: str, *, headers: Mapping[str, str], timeout_s: float, max_body: int | None = None
) -> HttpReply:
    """GET `url` within `timeout_s` in all; every failure is an `error`, never an exception.

    Every source here needs the whole body (JSON, a metrics page): one over its cap is an
    error, not a document read in part."""
    from .deployers.http_transport import MAX_BODY_BYTES, HttpReply, request

    cap = MAX_BODY_BYTES if max_body is None else max_body
    reply = request("GET", url, timeout_s=timeout_s, headers=headers, max_body=cap)
    if reply.cut:
        return HttpReply(error=f"body is larger than {cap} bytes")
    return reply


def _timeout(spec: Mapping[str, Any]) -> float:
    from .deployers.base import seconds

    raw = spec.get("timeout")
    if raw is not None and (isinstance(raw, bool) or not isinstance(raw, (int, float, str))):
        raise InputError(f"signal timeout must be a number of seconds or a duration, not {raw!r}")
    timeout_s = seconds(spec, "timeout", DEFAULT_TIMEOUT_S)
    if not timeout_s > 0:
        raise InputError(f"signal timeout must be more than 0 s, not {spec.get('timeout')!r}")
    return timeout_s


def _describe(source: Any) -> str:
    """A live source's spec as written (templates unexpanded), for a Reading's `source`."""
    if isinstance(source, list):
        return shlex.join(str(a) for a in source)
    if isinstance(source, Mapping):
        return " ".join(
            str(source[k]) for k in ("url", "query", "metrics_url", "metric") if k in source
        )
    return str(source)


_LIVE: dict[str, Callable[[str, Mapping[str, Any], Mapping[str, str]], Reading]] = {
    "command": _from_command,
    "http_json": _from_http_json,
    "prometheus": _from_prometheus,
}


def _dug(name: str, doc: Any, path: str, source: str, *, where: str) -> Reading:
    try:
        value = dig(doc, path)
    except LookupError as e:
        return Reading(name, None, source, f"{path!r} not found in {where}: {e}")
    return _reading(name, value, source)


def dig(doc: Any, path: str) -> Any:
    """Follow a dotted path ("a.b.0.c"; a leading "$." is allowed) into JSON-like data."""
    for part in [p for p in path.removeprefix("$").split(".") if p]:
        if isinstance(doc, list):
            doc = doc[int(part)] if part.lstrip("-").isdigit() else doc[len(doc)]  # IndexError
        elif isinstance(doc, dict):
            doc = doc[part]
        else:
            raise KeyError(part)
    return doc


def _reading(name: str, raw: Any, source: str) -> Reading:
    value, error = coerce(raw)
    return Reading(name, value, source, error)


def coerce(raw: Any) -> tuple[SignalValue | None, str | None]:
    """A signal's raw value as a number or boolean; text like "4.2", "4.2%", "true" is accepted.

    NaN (Prometheus writes it for 0/0, e.g. an error rate with no requests) is no value: every
    comparison with it is false, so it would fail a gate that has, in truth, no data."""
    if isinstance(raw, bool):
        return raw, None
    if isinstance(raw, (int, float)):
        return _number(float(raw), raw)
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in ("true", "pass", "passed", "success", "ok"):
            return True, None
        if text in ("false", "fail", "failed", "failure"):
            return False, None
        try:
            return _number(float(text.removesuffix("%")), raw)
        except ValueError:
            pass
    # The raw value is not quoted: it may come from a service under release and carry anything,
    # an echoed credential included, into plans, reports and the state store.
    shown = (
        f"a string of {len(raw)} characters" if isinstance(raw, str) else f"a {type(raw).__name__}"
    )
    return None, f"value is {shown}, neither a number nor a boolean"


def _number(value: float, raw: Any) -> tuple[SignalValue | None, str | None]:
    if math.isnan(value):
        return None, f"value {raw!r} is not a number (NaN)"
    return value, None
