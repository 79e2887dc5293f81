"""Is a process still there? Used to tell a crashed holder's leftovers from a live one's."""

from __future__ import annotations

import os
import socket

import psutil


def is_alive(pid: int) -> bool:
    """True for a running process on this machine (a zombie, killed but not yet reaped, is gone)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, ValueError):
        return False


def started_at(pid: int) -> float | None:
    """The process's start time (seconds since the epoch): with the pid, it names one process even
    after the pid is reused."""
    try:
        return round(psutil.Process(pid).create_time(), 2)
    except (psutil.NoSuchProcess, ValueError):
        return None


def identity() -> dict[str, str]:
    """This process: host, pid and start time."""
    return {"host": socket.gethostname(), "pid": str(os.getpid()), "started": str(started_at(os.getpid()))}


def is_running(host: str, pid: int, started: float | None) -> bool | None:
    """Whether the process named by ``identity()`` still runs; None when it ran on another host."""
    if host != socket.gethostname():
        return None
    if not is_alive(pid):
        return False
    return started is None or started_at(pid) == started
