"""Building blocks of the end-to-end tests: a project root per test, real deploy scripts, the
real console entry point in subprocesses, and read-only looks at the state store.

Everything runs for real: the `release-trains` console script (helpers.cli_argv) in a
subprocess, deploy commands that are /bin/sh scripts written into the test's tmp_path, HTTP
servers on 127.0.0.1.

The recording deploy script (`deploy SERVICE VERSION`):
  1. appends `SERVICE VERSION PID` to `deploy.record` (so a test sees every call, in order),
  2. appends `start SERVICE` to `deploy.timeline`, waits while the flag file
     `flags/hold-SERVICE` exists, sleeps `sleep_s` (so a test can act mid-deploy), appends
     `end SERVICE`,
  3. fails (exit 1) when the flag file `flags/fail-SERVICE-VERSION` exists,
  4. writes VERSION to `versions/SERVICE` atomically (tmp file + mv), which the
     `current` script prints for the deployer's `current_version`.

The state store is the embedded SQLite file under the root unless the project was made with
`state=URL` (a PostgreSQL database): then every CLI call gets `--state URL`, and the read-only
looks (`query`, `run_status`, `steps`, `events`, `integrity`) read that database, so one test
body runs against either backend (the `state` fixture of tests/e2e/conftest.py).
"""

from __future__ import annotations

import json
import os
import shlex
import sqlite3
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from helpers import cli_argv, wait_until, write_script

TRAIN = "T"
FROM = "1.0.0"
TARGET = "2.0.0"
RUN_TIMEOUT_S = 60.0  # no single CLI call of these tests may take longer: a hang fails fast


@dataclass
class Project:
    """A root folder with its catalog, config and scripts, plus the files the scripts write."""

    root: Path
    work: Path  # where the scripts and what they write live (outside the root)
    services: list[str] = field(default_factory=list)
    state: str | None = None  # a PostgreSQL URL; None: the SQLite file under the root

    @property
    def on_postgres(self) -> bool:
        return self.state is not None and self.state.startswith(("postgresql:", "postgres:"))

    # --- files the scripts write ------------------------------------------------------------

    @property
    def record(self) -> Path:
        return self.work / "deploy.record"

    @property
    def timeline(self) -> Path:
        return self.work / "deploy.timeline"

    def timeline_lines(self) -> list[str]:
        """`start SERVICE` / `end SERVICE` per deploy call, in the order they happened."""
        return (
            self.timeline.read_text(encoding="utf-8").splitlines() if self.timeline.exists() else []
        )

    @property
    def versions(self) -> Path:
        return self.work / "versions"

    @property
    def flags(self) -> Path:
        return self.work / "flags"

    @property
    def deploy_script(self) -> Path:
        return self.work / "deploy"

    @property
    def current_script(self) -> Path:
        return self.work / "current"

    @property
    def db(self) -> Path:
        return self.root / "analysis" / "state" / "release-trains.db"

    @property
    def audit_log(self) -> Path:
        return self.root / "analysis" / "reports" / "audit.log"

    def calls(self) -> list[tuple[str, str, int]]:
        """(service, version, pid) per recorded deploy call, in order."""
        if not self.record.exists():
            return []
        out = []
        for line in self.record.read_text(encoding="utf-8").splitlines():
            service, version, pid = line.split()
            out.append((service, version, int(pid)))
        return out

    def called(self) -> list[tuple[str, str]]:
        return [(s, v) for s, v, _ in self.calls()]

    def deployed(self, service: str) -> str | None:
        path = self.versions / service
        return path.read_text(encoding="utf-8").strip() if path.exists() else None

    def fail(self, service: str, version: str) -> Path:
        """Make `deploy SERVICE VERSION` exit 1 from now on (until the flag is removed)."""
        self.flags.mkdir(parents=True, exist_ok=True)
        flag = self.flags / f"fail-{service}-{version}"
        flag.write_text("", encoding="utf-8")
        return flag

    def hold(self, service: str) -> Path:
        """Hold `deploy SERVICE` (after it has recorded its call) until the flag is removed."""
        self.flags.mkdir(parents=True, exist_ok=True)
        flag = self.flags / f"hold-{service}"
        flag.write_text("", encoding="utf-8")
        return flag

    # --- the CLI ----------------------------------------------------------------------------

    def argv(self, *args: str) -> list[str]:
        state = ("--state", self.state) if self.state else ()
        return cli_argv("--root", self.root, *state, *args)

    def run(
        self, *args: str, env: Mapping[str, str] | None = None, timeout_s: float = RUN_TIMEOUT_S
    ) -> Result:
        proc = subprocess.run(
            self.argv(*args),
            capture_output=True,
            text=True,
            env=child_env(env),
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    # --- the state store (read only, through a fresh connection each time) -----------------

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows, or [] while the store or its tables do not exist yet. SQL uses `?`
        placeholders on both backends (turned into psycopg's %s for PostgreSQL)."""
        if self.on_postgres:
            return _pg_query(str(self.state), sql, args)
        if not self.db.exists():
            return []
        con = sqlite3.connect(self.db, timeout=10)
        try:
            return con.execute(sql, tuple(args)).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return []
            raise
        finally:
            con.close()

    def has_table(self, table: str) -> bool:
        sql = (
            "SELECT table_name FROM information_schema.tables WHERE table_name = ?"
            if self.on_postgres
            else "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?"
        )
        return bool(self.query(sql, (table,)))

    def leases(self) -> list[dict[str, Any]]:
        """Every locked resource with its lease: resource, lock_id, train, holder, host, pid,
        started_at, heartbeat_at (ordered by resource). A store of schema 2 keeps one `leases`
        row per holder and one `locks` row per resource; an older one repeated the holder in
        every `locks` row."""
        keys = ("resource", "lock_id", "train", "holder", "host", "pid", "started_at")
        keys += ("heartbeat_at",)
        columns = ", ".join(f"l.{k}" if k in ("resource", "lock_id") else f"s.{k}" for k in keys)
        if self.has_table("leases"):
            rows = self.query(
                f"SELECT {columns} FROM locks l JOIN leases s ON s.lock_id = l.lock_id"
                " ORDER BY l.resource"
            )
        else:
            rows = self.query(f"SELECT {', '.join(keys)} FROM locks ORDER BY resource")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def run_status(self, train: str = TRAIN) -> tuple[str, str | None] | None:
        rows = self.query(
            "SELECT status, reason FROM runs WHERE train = ? ORDER BY id DESC LIMIT 1", (train,)
        )
        return (rows[0][0], rows[0][1]) if rows else None

    def steps(self, train: str = TRAIN) -> dict[str, dict[str, Any]]:
        """service -> its step row (as a dict) in the train's latest run."""
        con_rows = self.query(
            "SELECT s.service, s.status, s.from_version, s.to_version, s.attempts, s.health,"
            " s.error FROM steps s WHERE s.run_id = (SELECT MAX(id) FROM runs WHERE train = ?)"
            " ORDER BY s.position",
            (train,),
        )
        keys = ("service", "status", "from_version", "to_version", "attempts", "health", "error")
        return {r[0]: dict(zip(keys, r, strict=True)) for r in con_rows}

    def step_status(self, service: str, train: str = TRAIN) -> str | None:
        return self.steps(train).get(service, {}).get("status")

    def events(self, kind: str | None = None) -> list[tuple[str, str | None, str]]:
        """(kind, service, message) of every event, in order."""
        rows = self.query("SELECT kind, service, message FROM events ORDER BY id")
        return [r for r in rows if kind is None or r[0] == kind]

    def integrity(self) -> str:
        """ "ok" when the store is sound: SQLite's own integrity check; on PostgreSQL (which
        checks its pages itself) that no step or event names a run that does not exist."""
        if self.on_postgres:
            orphans = self.query(
                "SELECT (SELECT COUNT(*) FROM steps WHERE run_id NOT IN (SELECT id FROM runs)),"
                " (SELECT COUNT(*) FROM events WHERE run_id NOT IN (SELECT id FROM runs))"
            )
            steps, events = orphans[0] if orphans else (0, 0)
            return "ok" if steps == events == 0 else f"{steps} orphan steps, {events} orphan events"
        con = sqlite3.connect(self.db, timeout=10)
        try:
            return str(con.execute("PRAGMA integrity_check").fetchone()[0])
        finally:
            con.close()

    def audit_lines(self) -> list[str]:
        return (
            self.audit_log.read_text(encoding="utf-8").splitlines()
            if self.audit_log.exists()
            else []
        )


def _pg_query(url: str, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows of `sql` on the PostgreSQL database `url` (its password, if any, comes from
    PGPASSFILE, which the postgres_server fixture sets), or [] while its tables do not exist."""
    import psycopg  # only the PostgreSQL tests need the driver

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as con:
        try:
            return list(con.execute(sql.replace("%", "%%").replace("?", "%s"), tuple(args)))
        except psycopg.errors.UndefinedTable:
            return []


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def __str__(self) -> str:  # shown by failing asserts
        return f"exit {self.code}\n--- stdout ---\n{self.out}\n--- stderr ---\n{self.err}"


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("RELEASE_TRAINS_STATE", None)
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


class Background:
    """An executor (or any CLI call) running in a subprocess; output goes to files, so a
    chatty process can never block on a full pipe."""

    def __init__(
        self, project: Project, *args: str, name: str = "bg", env: Mapping[str, str] | None = None
    ) -> None:
        self.out_path = project.work / f"{name}.out"
        self.err_path = project.work / f"{name}.err"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                project.argv(*args),
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=child_env(env),
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait(self, timeout_s: float = RUN_TIMEOUT_S) -> Result:
        code = self.proc.wait(timeout=timeout_s)
        return Result(
            code,
            self.out_path.read_text(encoding="utf-8"),
            self.err_path.read_text(encoding="utf-8"),
        )

    def kill(self) -> None:
        """SIGKILL (if still running) and reap."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def err(self) -> str:
        return self.err_path.read_text(encoding="utf-8")


# --- building a project ---------------------------------------------------------------------


def deploy_script_body(project: Project, *, sleep_s: float = 0.0) -> str:
    q = shlex.quote
    sleep = f"sleep {sleep_s}\n" if sleep_s else ""
    return (
        'svc="$1"; ver="$2"\n'
        f'printf "%s %s %s\\n" "$svc" "$ver" "$$" >> {q(str(project.record))}\n'
        f'printf "start %s\\n" "$svc" >> {q(str(project.timeline))}\n'
        # held while flags/hold-SERVICE exists (bounded: ~30 s), so a test can act mid-deploy
        f'n=0; while [ -e {q(str(project.flags))}/"hold-$svc" ] && [ $n -lt 1500 ]; do\n'
        "  sleep 0.02; n=$((n+1))\n"
        "done\n"
        f"{sleep}"
        f'printf "end %s\\n" "$svc" >> {q(str(project.timeline))}\n'
        f'if [ -e {q(str(project.flags))}/"fail-$svc-$ver" ]; then\n'
        '  echo "deploy of $svc $ver refused (flag)"; exit 1\n'
        "fi\n"
        f"mkdir -p {q(str(project.versions))}\n"
        f'printf "%s\\n" "$ver" > {q(str(project.versions))}/"$svc.tmp.$$"\n'
        f'mv {q(str(project.versions))}/"$svc.tmp.$$" {q(str(project.versions))}/"$svc"\n'
        "exit 0\n"
    )


def current_script_body(project: Project) -> str:
    return f'cat {shlex.quote(str(project.versions))}/"$1" 2>/dev/null\nexit 0\n'


def service_entry(
    name: str, deps: Iterable[str] = (), version: str = FROM, **extra: Any
) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "version": version}
    deps = list(deps)
    if deps:
        entry["dependencies"] = {"internal": deps}
    entry["quality"] = {"score": 90, "coverage": 90, "open_critical_vulns": 0}
    entry.update(extra)
    return entry


def command_deployer(
    project: Project, *, timeout: float = 20, retries: int = 0, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "command",
        "deploy": [str(project.deploy_script), "{service}", "{version}"],
        "current_version": [str(project.current_script), "{service}"],
        "timeout": timeout,
        "retries": retries,
        "backoff": 0.05,
        **extra,
    }


def make_project(
    tmp_path: Path,
    *,
    services: Mapping[str, Iterable[str]],
    trains: Sequence[Mapping[str, Any]] | None = None,
    deployer: Mapping[str, Any] | None = None,
    deployer_extra: Mapping[str, Any] | None = None,
    health: Mapping[str, Any] | None = None,
    sleep_s: float = 0.0,
    name: str = "project",
    service_extra: Mapping[str, Mapping[str, Any]] | None = None,
    release_trains: Mapping[str, Any] | None = None,
    state: str | None = None,
) -> Project:
    """A root with `services` (name -> its internal dependencies), one train T releasing all of
    them to TARGET (unless `trains` is given), and a command deployer running the recording
    script (unless `deployer` is given; `deployer_extra` overrides its settings). `state`: the
    store's URL (a PostgreSQL database), None for the SQLite file under the root."""
    work = tmp_path / name
    root = work / "root"
    project = Project(root=root, work=work, services=list(services), state=state)
    write_script(project.deploy_script, deploy_script_body(project, sleep_s=sleep_s))
    write_script(project.current_script, current_script_body(project))
    extra = service_extra or {}
    index = {
        "services": [service_entry(n, deps, **extra.get(n, {})) for n, deps in services.items()]
    }
    if trains is None:
        trains = [
            {
                "name": TRAIN,
                "target_version": TARGET,
                "participants": list(services),
                "status": "planning",
            }
        ]
    section: dict[str, Any] = {
        "environment": "test",
        "deployer": dict(deployer)
        if deployer is not None
        else command_deployer(project, **(deployer_extra or {})),
    }
    if health is not None:
        section["health"] = dict(health)
    section.update(release_trains or {})
    write_yaml(root / "catalog" / "service-index.yaml", index)
    write_yaml(root / "catalog" / "release-trains.yaml", {"trains": list(trains)})
    write_yaml(root / "config" / "upgrade-policies.yaml", {"release_trains": section})
    return project


def chain(names: Sequence[str]) -> dict[str, list[str]]:
    """names[i] depends on names[i - 1]."""
    return {n: ([names[i - 1]] if i else []) for i, n in enumerate(names)}


def write_yaml(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def wait_for_calls(
    project: Project, count: int, *, timeout_s: float = 20.0, proc: Background | None = None
) -> None:
    """Poll the record file until `count` deploy calls are in it (fail fast if `proc` exits)."""

    def enough() -> bool:
        if len(project.calls()) >= count:
            return True
        if proc is not None and proc.proc.poll() is not None:
            raise AssertionError(f"the executor exited before {count} deploy calls:\n{proc.wait()}")
        return False

    wait_until(enough, timeout_s=timeout_s, what=f"{count} recorded deploy calls")
