"""Processes a test session left behind: those that still name its temporary folders."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil


def _naming(process: psutil.Process, folders: list[str]) -> str | None:
    """The process's command line when it is alive and names one of ``folders``, else None."""
    try:
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        names = " ".join([*process.cmdline(), process.cwd(), *process.environ().values()]) + " "
        if any(f + os.sep in names or f + " " in names for f in folders):
            return f"pid {process.pid}: {' '.join(process.cmdline())[:200]}"
    except (psutil.Error, OSError):
        pass
    return None


def processes_under(bases: list[Path], settle_seconds: float = 10.0) -> dict[psutil.Process, str]:
    """Live processes (other than this one and its ancestors) that name one of ``bases``; processes
    still on their way out get ``settle_seconds`` to finish."""
    folders = [str(Path(base).resolve()) for base in bases]
    if not folders:
        return {}
    mine = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    deadline = time.monotonic() + settle_seconds
    while True:
        named = {p: _naming(p, folders) for p in psutil.process_iter() if p.pid not in mine}
        left = {p: line for p, line in named.items() if line}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def kill(processes: dict[psutil.Process, str]) -> None:
    for process in processes:
        try:
            process.kill()
        except psutil.Error:
            pass
