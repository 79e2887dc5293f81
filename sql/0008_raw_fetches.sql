-- One row per fetch of a raw partition: when GitHub was asked, with what size and credentials.
-- It tells a partition that was fetched and came back empty from one whose raw rows were
-- deleted by retention, and a day fetched anonymously (5 per language) from a full-size one.
-- Retention keeps these rows: a record whose raw rows are gone tells a later step of a run
-- that retention deleted its input, so the step fails with that reason instead of storing nothing.

CREATE TABLE IF NOT EXISTS raw_partition_fetches (
    snapshot_date   date        NOT NULL,
    language        text        NOT NULL,
    fetched_at      timestamptz NOT NULL,
    repo_limit      integer     NOT NULL,     -- repositories asked for (25, or 5 anonymous / DEV_MODE)
    authenticated   boolean     NOT NULL,     -- false: fetched without a token
    row_count       integer     NOT NULL,
    run_id          text,
    PRIMARY KEY (snapshot_date, language)
);
