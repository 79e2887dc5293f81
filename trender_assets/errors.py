"""Errors an operator can act on. Their messages are one readable line and never carry a secret."""


class TrenderError(Exception):
    """Base for errors that the CLI prints as one line, without a traceback."""


class ConfigurationError(TrenderError):
    """Bad configuration or input: a date, a language, a setting."""


class WarehouseUnavailable(TrenderError):
    """The warehouse PostgreSQL cannot be reached or started."""


class GitHubError(TrenderError):
    """GitHub answered in a way that retrying will not fix, or never answered."""


class GitHubAuthError(GitHubError):
    """GitHub rejected the credentials (401, or 403 that is not a rate limit)."""


class GitHubRateLimited(GitHubError):
    """A rate limit would make us wait longer than allowed."""


class WarehousePrivilegeMissing(WarehouseUnavailable):
    """The warehouse's role lacks a privilege trender needs; the message names it and its GRANT."""
