-- Per-item answers are recorded on the item, not raised: a README GitHub will not serve, a record
-- PostgreSQL cannot hold as sent. Staging rejects such records with the recorded reason.

ALTER TABLE raw_github_repos ADD COLUMN IF NOT EXISTS readme_status text;  -- see README_STATUSES
ALTER TABLE raw_github_repos ADD COLUMN IF NOT EXISTS item_status text;    -- null = stored as sent
ALTER TABLE raw_github_repos ADD COLUMN IF NOT EXISTS api_source text;     -- search | graphql

ALTER TABLE stg_repos_validated ADD COLUMN IF NOT EXISTS readme_status text;
