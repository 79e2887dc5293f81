-- Raw and staging layers, partitioned by (snapshot_date, language).
-- Partition D of a language is replaced in one transaction: delete its rows, insert the new ones.

CREATE TABLE IF NOT EXISTS raw_github_repos (
    raw_id          bigserial PRIMARY KEY,
    snapshot_date   date        NOT NULL,
    language        text        NOT NULL,            -- partition: python | typescript | go | render
    search_rank     integer     NOT NULL,            -- position in the search answer, 1 = most stars
    repo_id         bigint,                          -- null only when GitHub sent a malformed item
    repo_full_name  text,
    api_response    jsonb       NOT NULL,            -- the repository JSON exactly as fetched
    readme_content  text,
    readme_sha      text,
    readme_path     text,
    readme_size     integer,
    fetched_at      timestamptz NOT NULL,
    run_id          text
);
CREATE UNIQUE INDEX IF NOT EXISTS raw_github_repos_partition_repo
    ON raw_github_repos (snapshot_date, language, repo_id) WHERE repo_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS raw_github_repos_partition
    ON raw_github_repos (snapshot_date, language);

CREATE TABLE IF NOT EXISTS stg_repos_validated (
    snapshot_date     date        NOT NULL,
    language          text        NOT NULL,          -- category: python | typescript | go | render
    repo_id           bigint      NOT NULL,
    repo_full_name    text        NOT NULL,
    owner_login       text        NOT NULL,
    repo_name         text        NOT NULL,
    github_language   text,                          -- GitHub's own language (may differ from category)
    description       text,
    homepage          text,
    license_spdx      text,
    topics            jsonb       NOT NULL DEFAULT '[]'::jsonb,
    archived          boolean     NOT NULL DEFAULT false,
    html_url          text,
    stars             integer     NOT NULL CHECK (stars >= 0),
    forks             integer     NOT NULL DEFAULT 0,
    open_issues       integer     NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL,
    pushed_at         timestamptz,
    updated_at        timestamptz,
    readme_content    text,
    readme_sha        text,
    fetched_at        timestamptz NOT NULL,
    validated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (snapshot_date, language, repo_id)
);

CREATE TABLE IF NOT EXISTS stg_repos_rejected (
    reject_id       bigserial PRIMARY KEY,
    snapshot_date   date        NOT NULL,
    language        text        NOT NULL,
    raw_id          bigint,
    repo_id         bigint,
    repo_full_name  text,
    reason          text        NOT NULL,
    api_response    jsonb       NOT NULL,
    rejected_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS stg_repos_rejected_partition
    ON stg_repos_rejected (snapshot_date, language);
