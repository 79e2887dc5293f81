-- What a dashboard reads. Facts join the dimension version valid at the snapshot date,
-- so a repository's history survives renames and attribute changes.

CREATE OR REPLACE VIEW analytics_trending_latest AS
SELECT f.snapshot_date, f.language, f.rank_in_language, f.rank_overall,
       f.repo_id, d.repo_full_name, d.description, d.language AS github_language, d.html_url,
       f.stars, f.forks, f.age_days, f.momentum_score, f.recency_score, f.normalized_stars
FROM fact_repo_snapshots f
JOIN dim_repositories d ON d.repo_key = f.repo_key
WHERE f.snapshot_date = (SELECT max(snapshot_date) FROM fact_repo_snapshots)
ORDER BY f.language, f.momentum_score DESC, f.rank_in_language;

CREATE OR REPLACE VIEW analytics_repo_history AS
SELECT f.repo_id, f.snapshot_date, f.language, d.repo_full_name,
       f.stars, f.momentum_score, f.rank_overall, f.rank_in_language
FROM fact_repo_snapshots f
JOIN dim_repositories d ON d.repo_key = f.repo_key
ORDER BY f.repo_id, f.snapshot_date, f.language;
