-- Runs launched from the UI (Materialize, asset backfills) belong to Dagster's hidden asset job,
-- `__ASSET_JOB`: a name nobody knows. Each run is also recorded under a readable name (the job's
-- own name, or "materialize <assets>" for the hidden job), with its asset selection and the
-- backfill it belongs to; the latest-runs view groups by that name.

ALTER TABLE fact_workflow_runs ADD COLUMN IF NOT EXISTS run_name text;
ALTER TABLE fact_workflow_runs ADD COLUMN IF NOT EXISTS asset_selection jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE fact_workflow_runs ADD COLUMN IF NOT EXISTS backfill_id text;
UPDATE fact_workflow_runs SET run_name = job_name WHERE run_name IS NULL;
CREATE INDEX IF NOT EXISTS fact_workflow_runs_run_name ON fact_workflow_runs (run_name, started_at DESC);

-- The view gains columns in the middle: replace it.
DROP VIEW IF EXISTS analytics_latest_runs;
CREATE VIEW analytics_latest_runs AS
SELECT DISTINCT ON (coalesce(run_name, job_name))
       coalesce(run_name, job_name) AS run_name, job_name, run_id, status, partitions, asset_selection,
       backfill_id, started_at, ended_at, ended_at - started_at AS duration, repositories_processed,
       error_message
FROM fact_workflow_runs
ORDER BY coalesce(run_name, job_name), started_at DESC NULLS LAST, recorded_at DESC;
