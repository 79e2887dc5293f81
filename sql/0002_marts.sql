-- Dimensional model. The GitHub repository id is the durable key; full_name is an attribute.

-- One row per repository per snapshot day: the tracked attributes as observed.
-- SCD2 versions are derived from these observations by date, so backfills in any order
-- give the same history.
CREATE TABLE IF NOT EXISTS dim_repository_observations (
    repo_id          bigint  NOT NULL,
    snapshot_date    date    NOT NULL,
    attributes_hash  text    NOT NULL,
    attributes       jsonb   NOT NULL,
    PRIMARY KEY (repo_id, snapshot_date)
);

CREATE TABLE IF NOT EXISTS dim_repositories (
    repo_key         bigserial PRIMARY KEY,              -- surrogate key of one version
    repo_id          bigint      NOT NULL,               -- durable key
    repo_full_name   text        NOT NULL,
    language         text,                               -- GitHub's own language
    description      text,
    homepage         text,
    license_spdx     text,
    topics           jsonb       NOT NULL DEFAULT '[]'::jsonb,
    archived         boolean     NOT NULL DEFAULT false,
    readme_sha       text,
    html_url         text,
    created_at       timestamptz,
    attributes_hash  text        NOT NULL,
    valid_from       date        NOT NULL,               -- first snapshot day of this version
    valid_to         date,                               -- exclusive; null while current
    is_current       boolean     NOT NULL,
    loaded_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (repo_id, valid_from),
    CHECK (valid_to IS NULL OR valid_to > valid_from),
    CHECK (is_current = (valid_to IS NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS dim_repositories_one_current
    ON dim_repositories (repo_id) WHERE is_current;

CREATE TABLE IF NOT EXISTS fact_repo_snapshots (
    snapshot_date     date             NOT NULL,
    language          text             NOT NULL,      -- category: python | typescript | go | render
    repo_id           bigint           NOT NULL,
    repo_key          bigint           NOT NULL REFERENCES dim_repositories (repo_key)
                                       DEFERRABLE INITIALLY IMMEDIATE,
    repo_full_name    text             NOT NULL,
    stars             integer          NOT NULL,
    forks             integer          NOT NULL,
    open_issues       integer          NOT NULL,
    age_days          integer          NOT NULL,
    recency_score     double precision NOT NULL,
    normalized_stars  double precision NOT NULL,
    momentum_score    double precision NOT NULL,
    rank_overall      integer          NOT NULL,
    rank_in_language  integer          NOT NULL,
    loaded_at         timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (snapshot_date, language, repo_id)
);
CREATE INDEX IF NOT EXISTS fact_repo_snapshots_repo ON fact_repo_snapshots (repo_id, snapshot_date);
CREATE INDEX IF NOT EXISTS fact_repo_snapshots_key ON fact_repo_snapshots (repo_key);
