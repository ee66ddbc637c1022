-- The schema of release 0.1.0 (release_trains/store.py at d64d309, verbatim), and rows as
-- that release wrote them: a completed run, and an executing run whose lock holds three resources.
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    train TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    finished_at TEXT,
    reason TEXT,
    actor TEXT NOT NULL,
    plan TEXT NOT NULL,
    max_parallel INTEGER NOT NULL DEFAULT 1,
    pause_requested TEXT,            -- "actor: reason" when someone asked the executor to stop
    phase_started_at TEXT
);
CREATE INDEX IF NOT EXISTS runs_train ON runs (train, id);
CREATE TABLE IF NOT EXISTS steps (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    service TEXT NOT NULL,
    position INTEGER NOT NULL,
    status TEXT NOT NULL,
    from_version TEXT,               -- the rollback point recorded at staging; NULL: first install
    to_version TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at TEXT,
    finished_at TEXT,
    error TEXT,
    health TEXT NOT NULL DEFAULT 'not verified',
    health_detail TEXT,
    rollback_started_at TEXT,
    rollback_finished_at TEXT,
    PRIMARY KEY (run_id, service)
);
CREATE TABLE IF NOT EXISTS deployed (
    environment TEXT NOT NULL,
    service TEXT NOT NULL,
    version TEXT,                    -- NULL: undeployed
    updated_at TEXT NOT NULL,
    PRIMARY KEY (environment, service)
);
CREATE TABLE IF NOT EXISTS locks (
    resource TEXT PRIMARY KEY,       -- "train:<name>" or "service:<name>"
    lock_id TEXT NOT NULL,
    train TEXT NOT NULL,
    holder TEXT NOT NULL,            -- user@host
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    service TEXT,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run ON events (run_id, id);
INSERT INTO runs (id, train, status, started_at, updated_at, finished_at, reason, actor, plan,
    max_parallel, pause_requested, phase_started_at)
VALUES (1, 'T', 'completed', '2026-01-05T09:00:00.000+00:00', '2026-01-05T09:01:00.000+00:00',
    '2026-01-05T09:01:00.000+00:00', NULL, 'ops@old', '{}', 1, NULL,
    '2026-01-05T09:01:00.000+00:00');
INSERT INTO runs (id, train, status, started_at, updated_at, finished_at, reason, actor, plan,
    max_parallel, pause_requested, phase_started_at)
VALUES (2, 'U', 'executing', '2026-01-06T09:00:00.000+00:00', '2026-01-06T09:00:05.000+00:00',
    NULL, NULL, 'ops@old', '{}', 1, NULL, '2026-01-06T09:00:05.000+00:00');
INSERT INTO steps (run_id, service, position, status, from_version, to_version, attempts)
VALUES (1, 'a', 0, 'released', '1.0.0', '2.0.0', 1),
       (2, 'b', 0, 'deploying', '1.0.0', '1.1.0', 1),
       (2, 'c', 1, 'pending', NULL, '3.0.0', 0);
INSERT INTO deployed (environment, service, version, updated_at)
VALUES ('local', 'a', '2.0.0', '2026-01-05T09:01:00.000+00:00');
INSERT INTO locks (resource, lock_id, train, holder, host, pid, started_at, heartbeat_at)
VALUES ('train:U', 'abc123def456', 'U', 'ops@old-host', 'old-host', 4242,
        '2026-01-06T09:00:00.000+00:00', '2026-01-06T09:00:05.000+00:00'),
       ('service:b', 'abc123def456', 'U', 'ops@old-host', 'old-host', 4242,
        '2026-01-06T09:00:00.000+00:00', '2026-01-06T09:00:05.000+00:00'),
       ('service:c', 'abc123def456', 'U', 'ops@old-host', 'old-host', 4242,
        '2026-01-06T09:00:00.000+00:00', '2026-01-06T09:00:05.000+00:00');
INSERT INTO events (run_id, ts, kind, service, message)
VALUES (1, '2026-01-05T09:00:30.000+00:00', 'deploy', 'a', '1.0.0 -> 2.0.0');
