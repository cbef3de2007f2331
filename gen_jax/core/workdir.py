"""One run per workdir: a lock file holding the owner's process id, host and start time.

`WorkdirLock(workdir).acquire()` creates `workdir/run.lock` atomically (written to a temporary file, then
hard-linked into place, so the lock never exists half-written). A second run on the same workdir refuses in
one line that names the holder. A lock whose process is gone (same host: no such pid, or a pid that started
after the lock was taken, i.e. reused) is taken over with a warning. `release()` removes it if it is ours.
"""
from __future__ import annotations

import json
import os
import socket
import time

from absl import logging

LOCK_NAME = "run.lock"


class WorkdirLockedError(RuntimeError):
    """Another live run holds the workdir."""


def _alive(pid: int, started: float) -> bool:
    """Whether `pid` on this host is the process that took the lock at time `started` (not a reused pid)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.create_time() <= started + 1.0 and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


class WorkdirLock:
    def __init__(self, workdir: str):
        self.workdir = os.path.abspath(workdir)
        self.path = os.path.join(self.workdir, LOCK_NAME)
        self.held = False

    def _read(self):
        try:
            with open(self.path) as f:
                return json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}

    def acquire(self) -> "WorkdirLock":
        os.makedirs(self.workdir, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "start": time.time()}
        tmp = f"{self.path}.{me['pid']}.tmp"
        with open(tmp, "w") as f:
            json.dump(me, f)
        try:
            for _ in range(3):
                try:
                    os.link(tmp, self.path)
                    self.held = True
                    return self
                except FileExistsError:
                    holder = self._read()
                    if holder is None:
                        continue  # released meanwhile
                    if self._stale(holder):
                        logging.warning("taking over the lock of %s left by a dead run (pid %s on %s)",
                                        self.workdir, holder.get("pid"), holder.get("host"))
                        os.remove(self.path)
                        continue
                    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("start", 0)))
                    raise WorkdirLockedError(
                        f"workdir {self.workdir} is in use by pid {holder.get('pid')} on {holder.get('host')} "
                        f"since {since} (lock {self.path}); wait for it, stop it, or use another --workdir")
            raise WorkdirLockedError(f"could not take the lock {self.path}")
        finally:
            os.remove(tmp)

    def _stale(self, holder) -> bool:
        if not holder:  # unreadable: only the link above writes it, so it is garbage
            return True
        if holder.get("host") != socket.gethostname():
            return False  # cannot tell whether a process on another host is alive
        if holder.get("pid") == os.getpid():
            return True  # our own, left by a Trainer of this process that was never closed
        return not _alive(int(holder.get("pid", -1)), float(holder.get("start", 0.0)))

    def release(self) -> None:
        if self.held and (self._read() or {}).get("pid") == os.getpid():
            os.remove(self.path)
        self.held = False
