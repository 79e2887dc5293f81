"""Pure logic (no Dagster imports): scoring, validation, SCD2 versions, search queries."""
