-- GitHub client state: conditional-request cache, encrypted OAuth credentials, README truncation.

CREATE TABLE IF NOT EXISTS github_http_cache (
    cache_key       text PRIMARY KEY,          -- sha256 of (token identity, media type, URL)
    url             text        NOT NULL,
    token_identity  text        NOT NULL,      -- a hash of the credential, never the token
    etag            text        NOT NULL,
    body            bytea       NOT NULL,
    content_type    text        NOT NULL,
    stored_at       timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS github_oauth_credentials (
    client_id           text PRIMARY KEY,
    access_token        bytea       NOT NULL,  -- Fernet-encrypted
    refresh_token       bytea       NOT NULL,  -- Fernet-encrypted; single use
    access_expires_at   timestamptz NOT NULL,
    refresh_expires_at  timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE raw_github_repos ADD COLUMN IF NOT EXISTS readme_truncated boolean NOT NULL DEFAULT false;
