"""The executor every job runs its steps with, chosen by configuration rather than code.

In process (the default): every job is a chain of steps, so a process per step buys no parallelism
on one machine. ``TRENDER_EXECUTOR=celery`` hands each step to Celery workers (dagster-celery's
``celery_executor``) on other machines, through the broker ``TRENDER_CELERY_BROKER`` (e.g.
``redis://redis.internal:6379/0``; the same Redis keeps the task results). The variable is read
where the code location loads (the gRPC server and the run workers it starts); the workers start
with deploy/celery.yaml, which names the same broker.
"""

from __future__ import annotations

import os

import dagster as dg

from trender_assets.errors import ConfigurationError

EXECUTORS = ("in_process", "celery")


def executor_from_env() -> dg.ExecutorDefinition:
    """TRENDER_EXECUTOR: unset or ``in_process``, or ``celery`` (needs TRENDER_CELERY_BROKER)."""
    choice = os.environ.get("TRENDER_EXECUTOR", "").strip().lower() or "in_process"
    if choice not in EXECUTORS:
        raise ConfigurationError(
            f"TRENDER_EXECUTOR must be one of {', '.join(EXECUTORS)}, got {os.environ['TRENDER_EXECUTOR']!r}")
    if choice == "in_process":
        return dg.in_process_executor
    return _celery_executor()


def _celery_executor() -> dg.ExecutorDefinition:
    broker = os.environ.get("TRENDER_CELERY_BROKER", "").strip()
    if not broker:
        raise ConfigurationError(
            "TRENDER_EXECUTOR=celery needs TRENDER_CELERY_BROKER, e.g. redis://127.0.0.1:6379/0")
    if "://" not in broker:
        raise ConfigurationError(
            "TRENDER_CELERY_BROKER must be a broker URL such as redis://HOST:6379/0 or amqp://USER@HOST//")
    try:
        from dagster_celery import celery_executor
    except ImportError:
        raise ConfigurationError(
            "TRENDER_EXECUTOR=celery needs dagster-celery: pip install 'trender[celery]'") from None
    # the URL holds the broker's password, if any: the run's config shows the variable's name only
    return celery_executor.configured({
        "broker": {"env": "TRENDER_CELERY_BROKER"},
        "backend": {"env": "TRENDER_CELERY_BROKER"},
    }, name="celery")
