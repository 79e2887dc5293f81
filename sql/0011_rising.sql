-- Rising: each category's repositories ranked by the stars they gained over the last 7 days, the
-- signal momentum (young and much-starred) does not reward.
--
-- For a snapshot of day D, the baseline is the same repository's earliest snapshot in the same
-- category within D-7 .. D-1: the snapshot of D-7 when there is one, else the nearest later one.
-- A missing day is skipped, never read as zero stars, and days_measured says over how many days
-- the gain was measured (7 when D-7 was snapshotted). stars_per_day = stars_gained / days_measured.
--
-- Ties: rank() gives equal gains the same rising_rank (1, 2, 2, 4), listed by repo_id.
-- A repository with no earlier snapshot in the window (a single snapshot, or its previous one more
-- than 7 days back) has no gain to measure: stars_gained, days_measured and rising_rank are null,
-- and it is listed after the ranked ones. A repository that lost stars ranks below every gain.
-- Works for any category in the facts, configured today or not.

CREATE OR REPLACE VIEW analytics_rising_by_day AS
WITH measured AS (
    SELECT f.snapshot_date, f.language, f.repo_id, f.repo_key, f.stars, f.rank_in_language, f.momentum_score,
           b.snapshot_date AS baseline_date, b.stars AS baseline_stars,
           f.stars - b.stars AS stars_gained,
           f.snapshot_date - b.snapshot_date AS days_measured
    FROM fact_repo_snapshots f
    LEFT JOIN LATERAL (
        SELECT p.snapshot_date, p.stars
        FROM fact_repo_snapshots_base p
        WHERE p.repo_id = f.repo_id AND p.language = f.language
          AND p.snapshot_date >= f.snapshot_date - 7 AND p.snapshot_date < f.snapshot_date
        ORDER BY p.snapshot_date
        LIMIT 1
    ) b ON true
)
SELECT m.snapshot_date, m.language,
       CASE WHEN m.stars_gained IS NOT NULL
            THEN rank() OVER (PARTITION BY m.snapshot_date, m.language, m.stars_gained IS NULL
                              ORDER BY m.stars_gained DESC)
       END AS rising_rank,
       m.repo_id, v.repo_full_name, v.description, v.html_url,
       m.stars, m.baseline_date, m.baseline_stars, m.stars_gained, m.days_measured,
       m.stars_gained::double precision / NULLIF(m.days_measured, 0) AS stars_per_day,
       m.rank_in_language, m.momentum_score
FROM measured m
JOIN dim_repositories v ON v.repo_key = m.repo_key;

CREATE OR REPLACE VIEW analytics_rising AS
SELECT r.*
FROM analytics_rising_by_day r
WHERE r.snapshot_date = (SELECT max(snapshot_date) FROM fact_repo_snapshots)
ORDER BY r.language, r.rising_rank NULLS LAST, r.repo_id;
