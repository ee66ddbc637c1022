"""API tokens: one row per token name, holding its role and only the sha256 of its secret.

The secret itself is never stored (release_trains/tokens.py makes it and prints it once); a
revoked token keeps its row (revoked_at set), so `token list` still shows who had access."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError, UnknownTokenError
from .db import StoreBase

TOKENS_TABLE = """CREATE TABLE IF NOT EXISTS tokens (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
)"""

_COLUMNS = ("name", "role", "hash", "created_at", "last_used_at", "revoked_at")
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM tokens"


@dataclass(frozen=True)
class TokenRecord:
    name: str
    role: str
    hash: str  # sha256 hex of the secret; never shown
    created_at: str
    last_used_at: str | None
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _record(row: object) -> TokenRecord:
    return TokenRecord(*(row[i] for i in range(len(_COLUMNS))))  # type: ignore[index]


class TokensMixin(StoreBase):
    def add_token(self, *, name: str, role: str, hash: str, now: str) -> None:
        """A new token; a name already used (even by a revoked token) is refused (exit 2),
        so an audit actor `token:NAME` always means one token."""
        with self._write(fenced=False) as tx:
            exists = tx.execute("SELECT 1 FROM tokens WHERE name = ?", (name,)).fetchone()
            if exists is not None:
                raise InputError(
                    f"a token named {name!r} already exists (names are never reused, so "
                    "`token:NAME` in the audit log names one token): choose another name"
                )
            tx.execute(
                "INSERT INTO tokens (name, role, hash, created_at) VALUES (?, ?, ?, ?)",
                (name, role, hash, now),
            )

    def tokens(self) -> list[TokenRecord]:
        if "tokens" not in self.tables:  # an older store: no token was ever made there
            return []
        with self._read() as tx:
            return [_record(r) for r in tx.execute(f"{_SELECT} ORDER BY name").fetchall()]

    def active_tokens(self) -> list[TokenRecord]:
        if "tokens" not in self.tables:
            return []
        with self._read() as tx:
            rows = tx.execute(f"{_SELECT} WHERE revoked_at IS NULL ORDER BY name").fetchall()
        return [_record(r) for r in rows]

    def revoke_token(self, name: str, *, now: str) -> TokenRecord:
        """Revoke NAME (revoking a revoked token changes nothing); unknown: exit 2."""
        with self._write(fenced=False) as tx:
            tx.execute(
                "UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                (now, name),
            )
            row = tx.execute(f"{_SELECT} WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise UnknownTokenError(f"no token named {name!r} (`release-trains token list`)")
        return _record(row)

    def touch_token(self, name: str, *, now: str) -> None:
        """Record that NAME was just used (`token list` shows it)."""
        with self._write(fenced=False) as tx:
            tx.execute("UPDATE tokens SET last_used_at = ? WHERE name = ?", (now, name))
