"""Processes a test session left behind: those that still name its temporary folder."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil


def _naming(process: psutil.Process, folder: str) -> str | None:
    """The process's command line when it is alive and names ``folder``, else None."""
    try:
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        command = " ".join(process.cmdline())
        if (folder in command or process.cwd().startswith(folder)
                or any(folder in value for value in process.environ().values())):
            return f"pid {process.pid}: {command[:200]}"
    except (psutil.Error, OSError):
        pass
    return None


def processes_under(base: Path, settle_seconds: float = 10.0) -> dict[psutil.Process, str]:
    """Live processes (other than this one and its ancestors) that name ``base``; processes still on
    their way out get ``settle_seconds`` to finish."""
    folder = str(Path(base).resolve())
    mine = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    deadline = time.monotonic() + settle_seconds
    while True:
        named = {p: _naming(p, folder) for p in psutil.process_iter() if p.pid not in mine}
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
