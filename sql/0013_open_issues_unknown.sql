-- A count GitHub could not give (a partial GraphQL error, a field left out of an answer) is
-- unknown: null, never 0. Open issues may therefore be null in staging and in the facts.

ALTER TABLE stg_repos_validated ALTER COLUMN open_issues DROP NOT NULL;
ALTER TABLE stg_repos_validated ALTER COLUMN open_issues DROP DEFAULT;
ALTER TABLE fact_repo_snapshots_base ALTER COLUMN open_issues DROP NOT NULL;
