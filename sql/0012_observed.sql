-- A number knows when it was observed.
--
-- A snapshot of day D holds the star counts GitHub gave when it was fetched. Fetched after D (a
-- backfill, a refetch), they are a later day's counts filed under D: measuring a gain against them
-- reads the time between two fetches as days of growth, and a backfill made after today's run gave
-- negative "rising" gains. So every fact records when its values were observed:
--
--   observed_at    when GitHub was asked (staging's fetched_at); null only for a fact stored before
--                  this file whose fetch record retention had already deleted
--   observed_late  the fetch's UTC date is after snapshot_date
--
-- Gains, star velocity and Rising are measured only between snapshots observed on their day: a
-- late snapshot has none of them and is no baseline for another day. Its stars, momentum and ranks
-- stay what was fetched (the day's membership is anchored to the day by the search windows).

ALTER TABLE fact_repo_snapshots_base ADD COLUMN IF NOT EXISTS observed_at timestamptz;
ALTER TABLE fact_repo_snapshots_base ADD COLUMN IF NOT EXISTS observed_late boolean NOT NULL DEFAULT false;

-- Stored days: the fetch time of the staged record, else of the raw one. Where retention deleted
-- both, nothing but loaded_at is left, and the fetch came before it: loaded on its day means
-- observed on its day; loaded later cannot be shown to be on its day, so it counts as late.
UPDATE fact_repo_snapshots_base f
   SET observed_at = coalesce(
        (SELECT s.fetched_at FROM stg_repos_validated s
          WHERE s.snapshot_date = f.snapshot_date AND s.language = f.language AND s.repo_id = f.repo_id),
        (SELECT min(r.fetched_at) FROM raw_github_repos r
          WHERE r.snapshot_date = f.snapshot_date AND r.language = f.language AND r.repo_id = f.repo_id));
UPDATE fact_repo_snapshots_base
   SET observed_late = (coalesce(observed_at, loaded_at) AT TIME ZONE 'UTC')::date > snapshot_date;

ALTER TABLE fact_repo_snapshots_base ADD CONSTRAINT fact_repo_snapshots_base_observed_late
    CHECK (observed_at IS NULL OR observed_late = ((observed_at AT TIME ZONE 'UTC')::date > snapshot_date));

-- The views gain the flag as their last column (so each is replaced in place, its readers kept).

CREATE OR REPLACE VIEW fact_repo_snapshots AS
SELECT f.snapshot_date, f.language, f.repo_id, d.repo_key, f.repo_full_name, f.stars, f.forks, f.open_issues,
       f.age_days, f.recency_score, f.normalized_stars, f.momentum_score, f.rank_overall, f.rank_in_language,
       f.loaded_at, f.observed_late
FROM fact_repo_snapshots_base f
JOIN dim_repositories d
  ON d.repo_id = f.repo_id AND d.valid_from <= f.snapshot_date
 AND (d.valid_to IS NULL OR f.snapshot_date < d.valid_to);

-- Velocity: stars per day since the previous snapshot observed on its day, in the same category
-- (late ones in between are skipped); none for a late snapshot.
CREATE OR REPLACE VIEW analytics_repo_history AS
WITH on_day AS (
    SELECT f.repo_id, f.language, f.snapshot_date, f.stars,
           lag(f.snapshot_date) OVER w AS previous_date,
           lag(f.stars) OVER w AS previous_stars
    FROM fact_repo_snapshots f
    WHERE NOT f.observed_late
    WINDOW w AS (PARTITION BY f.repo_id, f.language ORDER BY f.snapshot_date)
)
SELECT f.repo_id, f.snapshot_date, f.language, v.repo_full_name, v.description, v.html_url,
       f.stars, f.momentum_score, f.rank_overall, f.rank_in_language,
       (o.stars - o.previous_stars)::double precision / (o.snapshot_date - o.previous_date) AS star_velocity,
       -- over the last 7 days, from the latest on-day snapshot at least 7 days back
       CASE WHEN NOT f.observed_late THEN
           (SELECT (f.stars - w7.stars)::double precision / (f.snapshot_date - w7.snapshot_date)
              FROM fact_repo_snapshots w7
             WHERE w7.repo_id = f.repo_id AND w7.language = f.language AND NOT w7.observed_late
               AND w7.snapshot_date <= f.snapshot_date - 7
             ORDER BY w7.snapshot_date DESC LIMIT 1)
       END AS star_velocity_7d,
       f.observed_late
FROM fact_repo_snapshots f
JOIN dim_repositories v ON v.repo_key = f.repo_key
LEFT JOIN on_day o ON o.repo_id = f.repo_id AND o.language = f.language AND o.snapshot_date = f.snapshot_date;

CREATE OR REPLACE VIEW analytics_trending_now AS
SELECT h.language, h.rank_in_language, h.rank_overall, h.repo_id, h.repo_full_name, h.description,
       h.html_url, h.stars, h.star_velocity, h.star_velocity_7d, h.momentum_score, h.snapshot_date,
       h.observed_late
FROM analytics_repo_history h
WHERE h.snapshot_date = (SELECT max(snapshot_date) FROM fact_repo_snapshots)
ORDER BY h.language, h.momentum_score DESC, h.rank_in_language;

CREATE OR REPLACE VIEW analytics_trending_now_overall AS
SELECT h.rank_overall, h.language, h.repo_id, h.repo_full_name, h.description, h.html_url, h.stars,
       h.star_velocity, h.momentum_score, h.snapshot_date, h.observed_late
FROM analytics_repo_history h
WHERE h.snapshot_date = (SELECT max(snapshot_date) FROM fact_repo_snapshots)
ORDER BY h.momentum_score DESC, h.rank_overall;

CREATE OR REPLACE VIEW analytics_render_projects AS
SELECT h.snapshot_date, h.rank_in_language, h.repo_id, h.repo_full_name, h.description, h.html_url,
       v.language AS github_language, h.stars, h.star_velocity, h.momentum_score, h.observed_late
FROM analytics_repo_history h
JOIN fact_repo_snapshots f ON f.repo_id = h.repo_id AND f.language = h.language
                          AND f.snapshot_date = h.snapshot_date
JOIN dim_repositories v ON v.repo_key = f.repo_key
WHERE h.language = 'render'
  AND h.snapshot_date = (SELECT max(snapshot_date) FROM fact_repo_snapshots WHERE language = 'render')
ORDER BY h.momentum_score DESC;

-- New entrants: repositories of the category's snapshot that were not in that category's own
-- previous snapshot (not the previous day of any category: a category missing that day would
-- count every repository as new).
CREATE OR REPLACE VIEW analytics_language_trends AS
WITH days AS (
    SELECT language, snapshot_date,
           lag(snapshot_date) OVER (PARTITION BY language ORDER BY snapshot_date) AS previous_date
    FROM (SELECT DISTINCT language, snapshot_date FROM fact_repo_snapshots) s
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
JOIN days d ON d.language = f.language AND d.snapshot_date = f.snapshot_date
GROUP BY f.language, f.snapshot_date
ORDER BY f.snapshot_date, top_momentum DESC;

-- Rising (0011), measured only between snapshots observed on their day: the baseline is the
-- earliest on-day snapshot within D-7 .. D-1, and a late snapshot of D has no gain, no rank.
CREATE OR REPLACE VIEW analytics_rising_by_day AS
WITH measured AS (
    SELECT f.snapshot_date, f.language, f.repo_id, f.repo_key, f.stars, f.rank_in_language, f.momentum_score,
           f.observed_late,
           b.snapshot_date AS baseline_date, b.stars AS baseline_stars,
           f.stars - b.stars AS stars_gained,
           f.snapshot_date - b.snapshot_date AS days_measured
    FROM fact_repo_snapshots f
    LEFT JOIN LATERAL (
        SELECT p.snapshot_date, p.stars
        FROM fact_repo_snapshots_base p
        WHERE p.repo_id = f.repo_id AND p.language = f.language AND NOT p.observed_late
          AND p.snapshot_date >= f.snapshot_date - 7 AND p.snapshot_date < f.snapshot_date
        ORDER BY p.snapshot_date
        LIMIT 1
    ) b ON NOT f.observed_late
)
SELECT m.snapshot_date, m.language,
       CASE WHEN m.stars_gained IS NOT NULL
            THEN rank() OVER (PARTITION BY m.snapshot_date, m.language, m.stars_gained IS NULL
                              ORDER BY m.stars_gained DESC)
       END AS rising_rank,
       m.repo_id, v.repo_full_name, v.description, v.html_url,
       m.stars, m.baseline_date, m.baseline_stars, m.stars_gained, m.days_measured,
       m.stars_gained::double precision / NULLIF(m.days_measured, 0) AS stars_per_day,
       m.rank_in_language, m.momentum_score, m.observed_late
FROM measured m
JOIN dim_repositories v ON v.repo_key = m.repo_key;

CREATE OR REPLACE VIEW analytics_rising AS
SELECT r.*
FROM analytics_rising_by_day r
WHERE r.snapshot_date = (SELECT max(snapshot_date) FROM fact_repo_snapshots)
ORDER BY r.language, r.rising_rank NULLS LAST, r.repo_id;
