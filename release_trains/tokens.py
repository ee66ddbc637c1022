"""API tokens and roles: making a token, checking one, listing and revoking them.

A token is `rtk_` followed by secrets.token_urlsafe(32) (256 random bits); the prefix makes a
leaked token recognisable to secret scanners and people alike. Only its sha256 is stored
(state/tokens.py): a stolen store gives no usable token. A presented token is hashed and
compared with every active token's hash by hmac.compare_digest, so the comparison takes the
same time wherever the hashes differ. Roles are ordered viewer < operator < admin: a route
asks for the least role it needs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from .errors import AuthenticationError, InputError, PermissionDeniedError

PREFIX = "rtk_"
ROLES: tuple[str, ...] = ("viewer", "operator", "admin")  # each may do what those before may
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class TokenRecordLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def hash(self) -> str: ...
    @property
    def created_at(self) -> str: ...
    @property
    def last_used_at(self) -> str | None: ...
    @property
    def revoked_at(self) -> str | None: ...


class TokenStore(Protocol):
    def add_token(self, *, name: str, role: str, hash: str, now: str) -> None: ...
    def tokens(self) -> Sequence[TokenRecordLike]: ...
    def active_tokens(self) -> Sequence[TokenRecordLike]: ...
    def revoke_token(self, name: str, *, now: str) -> TokenRecordLike: ...
    def touch_token(self, name: str, *, now: str) -> None: ...


@dataclass(frozen=True)
class Principal:
    """Who made an API request: the token's name and role."""

    name: str
    role: str

    @property
    def actor(self) -> str:
        """The audit actor of everything this token does."""
        return f"token:{self.name}"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise InputError(
            f"token name {name!r}: use 1 to 64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit (it becomes the audit actor token:NAME)"
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"role {role!r}: one of {', '.join(ROLES)}")
    return role


def create(store: TokenStore, *, name: str, role: str, now: str) -> str:
    """A new token NAME with ROLE; returns its secret, which is stored nowhere."""
    check_name(name)
    check_role(role)
    secret = PREFIX + secrets.token_urlsafe(32)
    store.add_token(name=name, role=role, hash=digest(secret), now=now)
    return secret


TOUCH_EVERY_S = 60.0  # last-used time to the minute: one write a minute per token, not per request


def authenticate(store: TokenStore | None, header: str | None, *, now: datetime) -> Principal:
    """The principal an `Authorization: Bearer TOKEN` header names; AuthenticationError (401)
    for no header, another scheme, or a token that is unknown or revoked. Its last-used time
    is updated when it is older than TOUCH_EVERY_S (so reads under load write almost never)."""
    who, touch = identify(header, store.active_tokens() if store is not None else (), now=now)
    if touch:
        store.touch_token(who.name, now=now.isoformat(timespec="milliseconds"))  # type: ignore[union-attr]
    return who


def identify(
    header: str | None, active: Sequence[TokenRecordLike], *, now: datetime
) -> tuple[Principal, bool]:
    """authenticate without the store: the principal among the `active` tokens, and whether
    its last-used time is due to be written (the server keeps `active` while the store is
    unchanged and writes that time in its thread pool)."""
    if not header:
        raise AuthenticationError(
            "no token: send `Authorization: Bearer TOKEN` (make one with `release-trains token "
            "create NAME --role viewer`)"
        )
    scheme, _, secret = header.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise AuthenticationError("the Authorization header must be `Bearer TOKEN`")
    wanted = digest(secret)
    found = None
    # every active hash is compared (no early exit), each in constant time
    for record in active:
        if hmac.compare_digest(record.hash, wanted):
            found = record
    if found is None:
        raise AuthenticationError("the token is unknown or revoked")
    last = _parse(found.last_used_at)
    due = last is None or (now - last).total_seconds() >= TOUCH_EVERY_S
    return Principal(found.name, found.role), due


def _parse(ts: str | None) -> datetime | None:
    if ts is None:
        return None
    try:
        return datetime.fromisoformat(ts)
    except ValueError:
        return None


def authorize(principal: Principal, needed: str) -> None:
    """PermissionDeniedError (403) unless the principal's role is at least `needed`."""
    if ROLES.index(principal.role) < ROLES.index(needed):
        raise PermissionDeniedError(
            f"token {principal.name!r} has the role {principal.role}; this needs {needed}"
        )


def listing(store: TokenStore | None) -> list[dict[str, Any]]:
    """`token list --json`: names, roles and times; never a secret or a hash."""
    return [
        {
            "name": t.name,
            "role": t.role,
            "created_at": t.created_at,
            "last_used_at": t.last_used_at,
            "revoked_at": t.revoked_at,
        }
        for t in (store.tokens() if store is not None else ())
    ]


def revoke(store: TokenStore, name: str, *, now: str) -> dict[str, Any]:
    t = store.revoke_token(name, now=now)
    return {"name": t.name, "role": t.role, "revoked_at": t.revoked_at}


def any_active(store: TokenStore | None) -> bool:
    return bool(store is not None and store.active_tokens())
