"""Process helpers shared by the scheduler tests: what a Ray run leaves behind."""

import os
import signal
from pathlib import Path


def processes_in_group(group: int) -> list[int]:
    """Live processes in process group or session `group`: a driver started in a session of its own leads the
    session of every Ray process it starts (Ray workers get process groups of their own)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if group in (int(fields[2]), int(fields[3])) and fields[0] != "Z":  # its group or session
            found.append(int(entry.name))
    return found


def kill_group(group: int) -> None:
    """SIGKILL what is left of process group or session `group`: after a driver killed on purpose, its own Ray."""
    for pid in processes_in_group(group):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def end_driver(driver) -> None:
    """A driver started in its own session, ended whatever state the test left it in, with its own Ray."""
    if driver.poll() is None:
        driver.kill()
        driver.wait()
    kill_group(driver.pid)
