-- A run materializes one partition or a range of them (a day's categories, a backfill's days).
-- fact_workflow_runs.partitions holds the one partition, or a range's first and last; a range is
-- now also recorded as such (partition_range_start/end), and the latest-runs view shows it as a
-- range ("2026-11-01..2026-11-07 go..render"), never as a list of two partitions.

ALTER TABLE fact_workflow_runs ADD COLUMN IF NOT EXISTS partition_range_start text;
ALTER TABLE fact_workflow_runs ADD COLUMN IF NOT EXISTS partition_range_end text;

-- A run is tagged with one partition or with one range: two recorded partitions are a range's ends.
UPDATE fact_workflow_runs
SET partition_range_start = partitions->>0, partition_range_end = partitions->>1
WHERE jsonb_array_length(partitions) = 2 AND partition_range_start IS NULL;

-- partitions changes type (a readable text): replace the view.
DROP VIEW IF EXISTS analytics_latest_runs;
CREATE VIEW analytics_latest_runs AS
SELECT DISTINCT ON (coalesce(r.run_name, r.job_name))
       coalesce(r.run_name, r.job_name) AS run_name, r.job_name, r.run_id, r.status,
       CASE WHEN r.partition_range_start IS NULL THEN r.partitions->>0
            ELSE concat_ws(' ',
                 CASE WHEN b.first_day = b.last_day THEN b.first_day ELSE b.first_day || '..' || b.last_day END,
                 CASE WHEN b.first_category = b.last_category THEN b.first_category
                      ELSE b.first_category || '..' || b.last_category END)
       END AS partitions,
       r.partition_range_start, r.partition_range_end, r.asset_selection, r.backfill_id, r.started_at,
       r.ended_at, r.ended_at - r.started_at AS duration, r.repositories_processed, r.error_message
FROM fact_workflow_runs r
CROSS JOIN LATERAL (
    SELECT split_part(r.partition_range_start, '|', 1) AS first_day,
           nullif(split_part(r.partition_range_start, '|', 2), '') AS first_category,
           split_part(r.partition_range_end, '|', 1) AS last_day,
           nullif(split_part(r.partition_range_end, '|', 2), '') AS last_category
) b
ORDER BY coalesce(r.run_name, r.job_name), r.started_at DESC NULLS LAST, r.recorded_at DESC;
