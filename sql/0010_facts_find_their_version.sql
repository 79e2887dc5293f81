-- Facts find their dimension version where they are read.
--
-- Until now every fact stored the repo_key of the version valid on its snapshot date, and a
-- dim_repositories run re-pointed (and deleted) the facts of any day whenever it split or merged a
-- version: one asset wrote another's table, with no materialization of it recorded. Now the fact
-- asset writes fact_repo_snapshots_base (durable repo_id and the day, no version key), and
-- fact_repo_snapshots is a view that joins each fact to the version valid on its day: the same
-- columns as before, always consistent with the dimension, whatever order days were loaded in.
-- A fact whose day has no version (its observation was re-derived away) is not shown, as the
-- re-pointing used to delete it.

-- The views below read fact_repo_snapshots.repo_key: set them aside while the table changes,
-- then create them again exactly as 0003 and 0005 defined them.
DROP VIEW analytics_render_projects;
DROP VIEW analytics_trending_now_overall;
DROP VIEW analytics_trending_now;
DROP VIEW analytics_language_trends;
DROP VIEW analytics_repo_history;
DROP VIEW analytics_trending_latest;

ALTER TABLE fact_repo_snapshots RENAME TO fact_repo_snapshots_base;
ALTER TABLE fact_repo_snapshots_base DROP COLUMN repo_key;  -- its foreign key and index go with it
ALTER TABLE fact_repo_snapshots_base RENAME CONSTRAINT fact_repo_snapshots_pkey TO fact_repo_snapshots_base_pkey;
ALTER INDEX fact_repo_snapshots_repo RENAME TO fact_repo_snapshots_base_repo;

-- Point in time: the version whose [valid_from, valid_to) holds the snapshot date
-- (dim_repositories' unique (repo_id, valid_from) index serves the join).
CREATE VIEW fact_repo_snapshots AS
SELECT f.snapshot_date, f.language, f.repo_id, d.repo_key, f.repo_full_name, f.stars, f.forks, f.open_issues,
       f.age_days, f.recency_score, f.normalized_stars, f.momentum_score, f.rank_overall, f.rank_in_language,
       f.loaded_at
FROM fact_repo_snapshots_base f
JOIN dim_repositories d
  ON d.repo_id = f.repo_id AND d.valid_from <= f.snapshot_date
 AND (d.valid_to IS NULL OR f.snapshot_date < d.valid_to);

-- 0003
CREATE VIEW analytics_trending_latest AS
SELECT f.snapshot_date, f.language, f.rank_in_language, f.rank_overall,
       f.repo_id, d.repo_full_name, d.description, d.language AS github_language, d.html_url,
       f.stars, f.forks, f.age_days, f.momentum_score, f.recency_score, f.normalized_stars
FROM fact_repo_snapshots f
JOIN dim_repositories d ON d.repo_key = f.repo_key
WHERE f.snapshot_date = (SELECT max(snapshot_date) FROM fact_repo_snapshots)
ORDER BY f.language, f.momentum_score DESC, f.rank_in_language;

-- 0005
CREATE VIEW analytics_repo_history AS
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

CREATE VIEW analytics_trending_now AS
SELECT h.language, h.rank_in_language, h.rank_overall, h.repo_id, h.repo_full_name, h.description,
       h.html_url, h.stars, h.star_velocity, h.star_velocity_7d, h.momentum_score, h.snapshot_date
FROM analytics_repo_history h
WHERE h.snapshot_date = (SELECT max(snapshot_date) FROM fact_repo_snapshots)
ORDER BY h.language, h.momentum_score DESC, h.rank_in_language;

CREATE VIEW analytics_trending_now_overall AS
SELECT h.rank_overall, h.language, h.repo_id, h.repo_full_name, h.description, h.html_url, h.stars,
       h.star_velocity, h.momentum_score, h.snapshot_date
FROM analytics_repo_history h
WHERE h.snapshot_date = (SELECT max(snapshot_date) FROM fact_repo_snapshots)
ORDER BY h.momentum_score DESC, h.rank_overall;

CREATE VIEW analytics_language_trends AS
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

CREATE VIEW analytics_render_projects AS
SELECT h.snapshot_date, h.rank_in_language, h.repo_id, h.repo_full_name, h.description, h.html_url,
       v.language AS github_language, h.stars, h.star_velocity, h.momentum_score
FROM analytics_repo_history h
JOIN fact_repo_snapshots f ON f.repo_id = h.repo_id AND f.language = h.language
                          AND f.snapshot_date = h.snapshot_date
JOIN dim_repositories v ON v.repo_key = f.repo_key
WHERE h.language = 'render'
  AND h.snapshot_date = (SELECT max(snapshot_date) FROM fact_repo_snapshots WHERE language = 'render')
ORDER BY h.momentum_score DESC;
