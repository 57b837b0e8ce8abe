CREATE TABLE runs (
    id                TEXT PRIMARY KEY,
    job               TEXT NOT NULL,
    trigger_kind      TEXT NOT NULL,
    window_name       TEXT NOT NULL DEFAULT '',
    partitions        BIGINT NOT NULL,
    state             TEXT NOT NULL,
    started_at        TIMESTAMPTZ NOT NULL,
    finished_at       TIMESTAMPTZ,
    compared          BIGINT NOT NULL DEFAULT 0,
    matched           BIGINT NOT NULL DEFAULT 0,
    missing_in_target BIGINT NOT NULL DEFAULT 0,
    missing_in_source BIGINT NOT NULL DEFAULT 0,
    mismatched        BIGINT NOT NULL DEFAULT 0,
    duplicate_keys    BIGINT NOT NULL DEFAULT 0,
    invalid_rows      BIGINT NOT NULL DEFAULT 0,
    truncated         BOOLEAN NOT NULL DEFAULT FALSE,
    source_rows       BIGINT NOT NULL DEFAULT 0,
    target_rows       BIGINT NOT NULL DEFAULT 0,
    rows_per_second   DOUBLE PRECISION NOT NULL DEFAULT 0,
    error             TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_by_job ON runs (job, started_at);

CREATE TABLE run_partitions (
    run_id            TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx               BIGINT NOT NULL,
    compared          BIGINT NOT NULL,
    matched           BIGINT NOT NULL,
    missing_in_target BIGINT NOT NULL,
    missing_in_source BIGINT NOT NULL,
    mismatched        BIGINT NOT NULL,
    duplicate_keys    BIGINT NOT NULL,
    invalid_rows      BIGINT NOT NULL,
    truncated         BOOLEAN NOT NULL,
    source_rows       BIGINT NOT NULL,
    target_rows       BIGINT NOT NULL,
    PRIMARY KEY (run_id, idx)
);

CREATE TABLE discrepancies (
    run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    partition BIGINT NOT NULL,
    seq       BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    key_json  TEXT NOT NULL,
    side      TEXT NOT NULL DEFAULT '',
    body      TEXT NOT NULL,
    PRIMARY KEY (run_id, partition, seq)
);
CREATE INDEX discrepancies_by_key ON discrepancies (run_id, kind, key_json);

CREATE TABLE cases (
    id           BIGSERIAL PRIMARY KEY,
    job          TEXT NOT NULL,
    kind         TEXT NOT NULL,
    key_json     TEXT NOT NULL,
    state        TEXT NOT NULL,
    first_seen   TIMESTAMPTZ NOT NULL,
    last_seen    TIMESTAMPTZ NOT NULL,
    first_run    TEXT NOT NULL,
    last_run     TEXT NOT NULL,
    occurrences  BIGINT NOT NULL,
    assignee     TEXT NOT NULL DEFAULT '',
    resolution   TEXT NOT NULL DEFAULT '',
    resolved_run TEXT NOT NULL DEFAULT '',
    resolved_at  TIMESTAMPTZ
);
-- At most one unresolved case per (job, kind, key).
CREATE UNIQUE INDEX cases_unresolved ON cases (job, kind, key_json) WHERE state IN ('open', 'acknowledged');
CREATE INDEX cases_by_job ON cases (job, state);

CREATE TABLE case_notes (
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    at      TIMESTAMPTZ NOT NULL,
    author  TEXT NOT NULL,
    text    TEXT NOT NULL
);
CREATE INDEX case_notes_by_case ON case_notes (case_id, at);
