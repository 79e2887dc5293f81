-- History: star velocity, dashboard views, and a record of every Dagster run.
--
-- Facts follow the repository, not the version: every fact carries the durable repo_id and the
-- repo_key of the dimension version valid on its snapshot date. History views key on repo_id and
-- take names and descriptions from that version, so a repository's history survives renames.
--
-- Star velocity is computed here, in views, from the facts themselves: a backfilled older day then
-- changes the neighbours' velocity automatically, whatever order days were materialized in.

-- 0003's analytics_repo_history gains columns in the middle: replace it (and what reads it).
DROP VIEW IF EXISTS analytics_repo_history CASCADE;

CREATE OR REPLACE VIEW analytics_repo_history AS
WITH daily AS (
    SELECT f.repo_id, f.snapshot_date, f.language, f.stars, f.momentum_score, f.rank_overall,
           f.rank_in_language, f.repo_key,
           lag(f.snapshot_date) OVER w AS previous_date,
           lag(f.stars) OVER w AS previous_stars
    FROM fact_repo_snapshots f
    WINDOW w AS (PARTITION BY f.repo_id, f.language ORDER BY f.snapshot_date)
)
SELECT d.repo_id, d.snapshot_date, d.language, v.repo_full_name, v.description, v.html_url,
       d.stars, d.momentum_score, d.rank_overall, d.rank_in_language,
       -- stars gained per day since the repository's previous snapshot in this category
       CASE WHEN d.previous_date IS NULL THEN NULL
            ELSE (d.stars - d.previous_stars)::double precision / (d.snapshot_date - d.previous_date)
       END AS star_velocity,
       -- stars gained per day over the last 7 days, from the latest snapshot at least 7 days back
       (SELECT (d.stars - w7.stars)::double precision / (d.snapshot_date - w7.snapshot_date)
          FROM fact_repo_snapshots w7
         WHERE w7.repo_id = d.repo_id AND w7.language = d.language
           AND w7.snapshot_date <= d.snapshot_date - 7
         ORDER BY w7.snapshot_date DESC LIMIT 1) AS star_velocity_7d
FROM daily d
JOIN dim_repositories v ON v.repo_key = d.repo_key;

CREATE OR REPLACE VIEW analytics_trending_now AS
SELECT h.language, h.rank_in_language, h.rank_overall, h.repo_id, h.repo_full_name, h.description,
       h.html_url, h.stars, h.star_velocity, h.star_velocity_7d, h.momentum_score, h.snapshot_date
FROM analytics_repo_history h
WHERE h.snapshot_date = (SELECT max(snapshot_date) FROM fact_repo_snapshots)
ORDER BY h.language, h.momentum_score DESC, h.rank_in_language;

CREATE OR REPLACE VIEW analytics_trending_now_overall AS
SELECT h.rank_overall, h.language, h.repo_id, h.repo_full_name, h.description, h.html_url, h.stars,
       h.star_velocity, h.momentum_score, h.snapshot_date
FROM analytics_repo_history h
WHERE h.snapshot_date = (SELECT max(snapshot_date) FROM fact_repo_snapshots)
ORDER BY h.momentum_score DESC, h.rank_overall;

CREATE OR REPLACE VIEW analytics_language_trends AS
WITH days AS (
    SELECT DISTINCT snapshot_date, lag(snapshot_date) OVER (ORDER BY snapshot_date) AS previous_date
    FROM (SELECT DISTINCT snapshot_date FROM fact_repo_snapshots) s
)
SELECT f.language, f.snapshot_date,
       count(*) AS repositories,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY f.momentum_score) AS median_momentum,
       max(f.momentum_score) AS top_momentum,
       count(*) FILTER (WHERE NOT EXISTS (
           SELECT 1 FROM fact_repo_snapshots p
            WHERE p.repo_id = f.repo_id AND p.language = f.language AND p.snapshot_date = d.previous_date
       )) AS new_entrants
FROM fact_repo_snapshots f
JOIN days d ON d.snapshot_date = f.snapshot_date
GROUP BY f.language, f.snapshot_date
ORDER BY f.snapshot_date, top_momentum DESC;

CREATE OR REPLACE VIEW analytics_render_projects AS
SELECT h.snapshot_date, h.rank_in_language, h.repo_id, h.repo_full_name, h.description, h.html_url,
       v.language AS github_language, h.stars, h.star_velocity, h.momentum_score
FROM analytics_repo_history h
JOIN fact_repo_snapshots f ON f.repo_id = h.repo_id AND f.language = h.language
                          AND f.snapshot_date = h.snapshot_date
JOIN dim_repositories v ON v.repo_key = f.repo_key
WHERE h.language = 'render'
  AND h.snapshot_date = (SELECT max(snapshot_date) FROM fact_repo_snapshots WHERE language = 'render')
ORDER BY h.momentum_score DESC;

-- One row per Dagster run of this code location, written by run status sensors.
CREATE TABLE IF NOT EXISTS fact_workflow_runs (
    run_id                  text PRIMARY KEY,
    job_name                text        NOT NULL,
    partitions              jsonb       NOT NULL DEFAULT '[]'::jsonb,
    status                  text        NOT NULL CHECK (status IN ('started', 'succeeded', 'failed', 'canceled')),
    started_at              timestamptz,
    ended_at                timestamptz,
    repositories_processed  integer,
    error_message           text,
    steps                   jsonb       NOT NULL DEFAULT '[]'::jsonb,
    recorded_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS fact_workflow_runs_job ON fact_workflow_runs (job_name, started_at DESC);

CREATE OR REPLACE VIEW analytics_latest_runs AS
SELECT DISTINCT ON (job_name) job_name, run_id, status, partitions, started_at, ended_at,
       ended_at - started_at AS duration, repositories_processed, error_message
FROM fact_workflow_runs
ORDER BY job_name, started_at DESC NULLS LAST, recorded_at DESC;
