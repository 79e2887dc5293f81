-- README excerpts as the report renders them (Markdown -> sanitized HTML), so an unchanged README
-- is rendered once, not on every report run. The key hashes the renderer's version, the
-- repository URL (relative links resolve against it) and the excerpt itself. Retention deletes
-- entries no report day within the fact retention has used.

CREATE TABLE IF NOT EXISTS report_readme_html (
    cache_key   text PRIMARY KEY,
    html        text NOT NULL,
    used_on     date NOT NULL          -- latest report day that showed it
);
CREATE INDEX IF NOT EXISTS report_readme_html_used_on ON report_readme_html (used_on);
