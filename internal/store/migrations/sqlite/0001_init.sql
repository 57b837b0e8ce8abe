CREATE TABLE runs (
    id                TEXT PRIMARY KEY,
    job               TEXT NOT NULL,
    trigger_kind      TEXT NOT NULL,
    window_name       TEXT NOT NULL DEFAULT '',
    partitions        INTEGER NOT NULL,
    state             TEXT NOT NULL,
    started_at        TIMESTAMP NOT NULL,
    finished_at       TIMESTAMP,
    compared          INTEGER NOT NULL DEFAULT 0,
    matched           INTEGER NOT NULL DEFAULT 0,
    missing_in_target INTEGER NOT NULL DEFAULT 0,
    missing_in_source INTEGER NOT NULL DEFAULT 0,
    mismatched        INTEGER NOT NULL DEFAULT 0,
    duplicate_keys    INTEGER NOT NULL DEFAULT 0,
    invalid_rows      INTEGER NOT NULL DEFAULT 0,
    truncated         BOOLEAN NOT NULL DEFAULT FALSE,
    source_rows       INTEGER NOT NULL DEFAULT 0,
    target_rows       INTEGER NOT NULL DEFAULT 0,
    rows_per_second   REAL NOT NULL DEFAULT 0,
    error             TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_by_job ON runs (job, started_at);

CREATE TABLE run_partitions (
    run_id            TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx               INTEGER NOT NULL,
    compared          INTEGER NOT NULL,
    matched           INTEGER NOT NULL,
    missing_in_target INTEGER NOT NULL,
    missing_in_source INTEGER NOT NULL,
    mismatched        INTEGER NOT NULL,
    duplicate_keys    INTEGER NOT NULL,
    invalid_rows      INTEGER NOT NULL,
    truncated         BOOLEAN NOT NULL,
    source_rows       INTEGER NOT NULL,
    target_rows       INTEGER NOT NULL,
    PRIMARY KEY (run_id, idx)
);

CREATE TABLE discrepancies (
    run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    partition INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    key_json  TEXT NOT NULL,
    side      TEXT NOT NULL DEFAULT '',
    body      TEXT NOT NULL,
    PRIMARY KEY (run_id, partition, seq)
);
CREATE INDEX discrepancies_by_key ON discrepancies (run_id, kind, key_json);

CREATE TABLE cases (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    job          TEXT NOT NULL,
    kind         TEXT NOT NULL,
    key_json     TEXT NOT NULL,
    state        TEXT NOT NULL,
    first_seen   TIMESTAMP NOT NULL,
    last_seen    TIMESTAMP NOT NULL,
    first_run    TEXT NOT NULL,
    last_run     TEXT NOT NULL,
    occurrences  INTEGER NOT NULL,
    assignee     TEXT NOT NULL DEFAULT '',
    resolution   TEXT NOT NULL DEFAULT '',
    resolved_run TEXT NOT NULL DEFAULT '',
    resolved_at  TIMESTAMP
);
-- At most one unresolved case per (job, kind, key).
CREATE UNIQUE INDEX cases_unresolved ON cases (job, kind, key_json) WHERE state IN ('open', 'acknowledged');
CREATE INDEX cases_by_job ON cases (job, state);

CREATE TABLE case_notes (
    case_id INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    at      TIMESTAMP NOT NULL,
    author  TEXT NOT NULL,
    text    TEXT NOT NULL
);
CREATE INDEX case_notes_by_case ON case_notes (case_id, at);
