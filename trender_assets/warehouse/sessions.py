"""Every warehouse session runs in UTC.

Rule: every date the warehouse derives is a UTC date, whatever the server, the database or the role
sets as ``timezone``. PostgreSQL casts a timestamptz to a date, and psycopg hands one to Python, in
the session's zone: a repository created at 23:30 UTC would be a day younger at +14:00 and its
momentum and ranks would move. So each connection asks for UTC as it opens (a startup option, which
outranks the server's, the database's and the role's settings and is what RESET ALL and DISCARD ALL
return to), and is checked once open, because libpq's PGTZ variable outranks the option.
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa

UTC_OPTION = "-c timezone=UTC"


def utc_options(url: sa.URL) -> str:
    """libpq ``options`` for ``url``'s sessions: the URL's own (or PGOPTIONS, which an explicit value
    would otherwise silence), then UTC, which wins over any timezone they set."""
    own = url.query.get("options")
    if isinstance(own, tuple):
        own = " ".join(own)
    if own is None:
        own = os.environ.get("PGOPTIONS", "")
    return f"{own} {UTC_OPTION}".strip()


def pin_to_utc(connection: Any) -> None:
    """Make sure an open psycopg connection's session is in UTC; the server reports the zone as the
    session starts, so a session already in UTC costs no query."""
    if connection.info.parameter_status("TimeZone") == "UTC":
        return
    autocommit = connection.autocommit
    connection.autocommit = True  # a SET inside a transaction would be undone by its rollback
    try:
        connection.execute("SET TIME ZONE 'UTC'")
    finally:
        connection.autocommit = autocommit


def utc_engine(url: sa.URL, **kwargs: Any) -> sa.Engine:
    """``sa.create_engine`` whose every connection is in UTC."""
    connect_args = {**kwargs.pop("connect_args", {}), "options": utc_options(url)}
    engine = sa.create_engine(url, connect_args=connect_args, **kwargs)
    sa.event.listen(engine, "connect", lambda dbapi_connection, _record: pin_to_utc(dbapi_connection))
    return engine
