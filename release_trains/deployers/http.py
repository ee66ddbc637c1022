"""Deploy through a webhook: POST a JSON body, optionally poll a status URL until final.

Settings: `url` (required), `status_url`, `version_url`, `headers`, `timeout` (s, default 300:
the whole of each request, connect to last body byte, and of all the status polling together),
`poll_interval` (default 2), `retries` (default 0), `backoff`. Requests go through
http_transport.py: a total deadline on each, bodies read up to 1 MiB, 200 characters of a
failed answer's body quoted as evidence.
URLs take the template fields (values URL-quoted); header values may name environment
variables as `${DEPLOY_TOKEN}`. Expanded header values are secrets: they are sent and never
written anywhere else; details and logs show the unexpanded templates, and any text that
comes back (a response body, an error message) is scrubbed of them before it is shown.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from .base import (
    Attempt,
    DeployRequest,
    DeployResult,
    Log,
    Retry,
    Sleep,
    check_action,
    seconds,
    template_values,
    with_retries,
)
from .http_transport import HttpReply, quoted, request
from .templates import VALUE, Values, fields_used, render_url

OK_STATUSES = frozenset({"succeeded", "done", "success"})
FAILED_STATUSES = frozenset({"failed", "error"})
_ENV = re.compile(r"\$\{(\w+)\}")
_RETRYABLE_4XX = frozenset({408, 425, 429})  # the other 4xx say the request itself is wrong


@dataclass(frozen=True)
class HttpDeployer:
    url: str
    environment: str
    log: Log
    status_url: str | None = None
    version_url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # unexpanded templates
    timeout_s: float = 300.0
    poll_interval_s: float = 2.0
    retry: Retry = field(default_factory=Retry)
    sleep: Sleep = time.sleep
    kind: str = field(default="http", init=False)

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], *, environment: str, log: Log, sleep: Sleep = time.sleep
    ) -> HttpDeployer:
        url = settings.get("url")
        if not url:
            raise InputError("deployer type http needs a `url`")
        fields_used([url, settings.get("status_url") or ""])  # unknown fields fail up front
        if not fields_used([settings.get("version_url") or ""]) <= {"service", "environment"}:
            raise InputError("the version_url template may use only {service} and {environment}")
        return cls(
            url,
            environment,
            log,
            status_url=settings.get("status_url"),
            version_url=settings.get("version_url"),
            headers=dict(settings.get("headers") or {}),
            timeout_s=seconds(settings, "timeout", 300.0),
            poll_interval_s=seconds(settings, "poll_interval", 2.0),
            retry=Retry.from_settings(settings),
            sleep=sleep,
        )

    def deploy(self, req: DeployRequest) -> DeployResult:
        return self._act("deploy", req)

    def rollback(self, req: DeployRequest) -> DeployResult:
        return self._act("rollback", req)

    def undeploy(self, req: DeployRequest) -> DeployResult | None:
        return self._act("undeploy", req)

    def can_undeploy(self) -> bool:
        return True  # the endpoint is told {"action": "undeploy"}

    def check(self, req: DeployRequest) -> DeployResult | None:
        # No artifact to fetch, but a header variable that is not set should stop the train
        # at staging (InputError), not halfway through its deploys.
        expand_headers(self.headers)
        return None

    def can_report_version(self) -> bool:
        return self.version_url is not None

    def current_version(self, service: str) -> str | None:
        if self.version_url is None:
            return None
        url = render_url(self.version_url, {"service": service, "environment": self.environment})
        headers, secrets = expand_headers(self.headers)
        version, why = _version_from(request("GET", url, timeout_s=self.timeout_s, headers=headers))
        if version is None:
            self.log(redact(f"{service}: current version unknown: GET {url} -> {why}", secrets))
        return version

    def describe(self, action: str, req: DeployRequest) -> str:
        check_action(action)
        shown = "".join(f" -H '{k}: {v}'" for k, v in self.headers.items())
        if action == "current_version":
            if self.version_url is None:
                return "http: no version_url configured"
            fields: Values = {"service": req.service, "environment": req.environment}
            return f"GET {render_url(self.version_url, fields)}{shown}"
        if action == "check":
            return "http: nothing to check"
        values = template_values(action, req)
        body = json.dumps(_body(action, values))
        return f"POST {render_url(self.url, values)} {body}{shown}"

    def _act(self, action: str, req: DeployRequest) -> DeployResult:
        values = template_values(action, req)
        url = render_url(self.url, values)  # InputError on a bad value, before any request
        status_url = render_url(self.status_url, values) if self.status_url else None
        headers, secrets = expand_headers(self.headers)

        def log(line: str) -> None:
            self.log(redact(line, secrets))

        def progress(line: str) -> None:
            log(f"{req.service}: {line}")

        def attempt() -> Attempt:
            result = self._post(url, body=_body(action, values), headers=headers)
            if result.ok:
                progress(result.detail)
                if status_url is not None:
                    result = self._poll(status_url, headers=headers, posted=result, log=progress)
            return Attempt(result.ok, redact(result.detail, secrets), result.retryable)

        return with_retries(
            attempt,
            retry=self.retry,
            what=f"{req.service}: {action}",
            log=log,
            sleep=self.sleep,
            deadline=req.deadline,
        )

    def _post(self, url: str, *, body: Mapping[str, Any], headers: Mapping[str, str]) -> Attempt:
        reply = request("POST", url, timeout_s=self.timeout_s, headers=headers, json_body=body)
        if reply.error is not None:
            return Attempt(False, f"POST {url}: {reply.error}")
        code = reply.status
        if reply.success:
            return Attempt(True, f"POST {url} -> {code}")
        retryable = code >= 500 or code in _RETRYABLE_4XX
        return Attempt(False, f"POST {url} -> {code}{reply.snippet}", retryable)

    def _poll(self, url: str, *, headers: Mapping[str, str], posted: Attempt, log: Log) -> Attempt:
        """GET `url` every poll interval until its `status` is final or the timeout expires.

        `timeout` bounds the whole polling: each GET gets only what is left of it."""
        deadline = time.monotonic() + self.timeout_s
        last, seen = "no answer yet", ""
        while True:
            remaining = deadline - time.monotonic()
            status, last = _status(url, headers=headers, timeout_s=max(0.001, remaining))
            if status in OK_STATUSES:
                return Attempt(True, f"{posted.detail}; GET {url}: status {status!r}")
            if status in FAILED_STATUSES:
                return Attempt(False, f"{posted.detail}; GET {url}: status {status!r}")
            if last != seen:
                log(f"GET {url}: {last}")
                seen = last
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return Attempt(
                    False,
                    f"{posted.detail}; status not final after {self.timeout_s:g} s "
                    f"(GET {url}: {last})",
                )
            self.sleep(min(self.poll_interval_s, remaining))  # the poll interval itself


def _status(url: str, *, headers: Mapping[str, str], timeout_s: float) -> tuple[str | None, str]:
    """The `status` a status URL reports now (lower case), or None, with what was seen."""
    reply = request("GET", url, timeout_s=timeout_s, headers=headers)
    if reply.error is not None:
        return None, reply.error
    if not reply.success:
        return None, f"{reply.status}{reply.snippet}"
    try:
        doc = reply.json()
    except ValueError as e:
        return None, f"{reply.status}, {e}"
    status = doc.get("status") if isinstance(doc, dict) else None
    if not isinstance(status, str):
        return None, f"{reply.status}, no string `status` in the body"
    return status.strip().lower(), f"status {quoted(status)}"


def _version_from(reply: HttpReply) -> tuple[str | None, str]:
    if reply.error is not None:
        return None, reply.error
    if not reply.success:
        return None, f"{reply.status}{reply.snippet}"
    try:
        doc = reply.json()
    except ValueError as e:
        return None, str(e)
    version = doc.get("version") if isinstance(doc, dict) else None
    if not isinstance(version, str) or not VALUE.fullmatch(version):
        return None, f"field version={quoted(version)} is not a version"
    return version, ""


def _body(action: str, values: Values) -> dict[str, Any]:
    return {"action": action, **values}


def expand_headers(templates: Mapping[str, str]) -> tuple[dict[str, str], tuple[str, ...]]:
    """Headers with `${VAR}` expanded from the environment, and the expanded values.

    The expanded values are returned so callers can scrub them from anything they show.
    Error messages name the header and the variable, never a value.
    """
    headers: dict[str, str] = {}
    secrets: list[str] = []
    for name, template in templates.items():

        def value_of(match: re.Match[str], header: str = name) -> str:
            variable = match.group(1)
            value = os.environ.get(variable)
            if value is None:
                raise InputError(f"header {header}: environment variable {variable} is not set")
            if not value.isprintable() or not value.isascii():
                raise InputError(
                    f"header {header}: environment variable {variable} holds characters "
                    "that cannot go in an HTTP header (control or non-ASCII)"
                )
            if value:
                secrets.append(value)
            return value

        headers[name] = _ENV.sub(value_of, template)
    return headers, tuple(secrets)


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every expanded header value replaced by `***` (longest first)."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
