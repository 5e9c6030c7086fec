"""An exclusive, cross-process lock per device, so two measurements never run at once on one machine.

`fcntl.flock` on `$HWNAS_LOCK_DIR/<device>.lock` (default: the system temp dir): the kernel releases it
when the holder exits, even if it crashes, so a stale lock file never blocks a later measurement.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hwnas.errors import MeasurementError


def lock_path(device: str) -> Path:
    """The lock file of `device`; a name with characters a file name cannot hold (`agent://host:port`) is spelled
    with `_` for each of them."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", device)
    return Path(os.environ.get("HWNAS_LOCK_DIR", tempfile.gettempdir())) / f"hwnas-measure-{safe}.lock"


@contextmanager
def device_lock(device: str, timeout_s: float = 600.0, poll_s: float = 0.05) -> Iterator[Path]:
    """Hold the device's lock for the block; waits up to `timeout_s`, then raises `MeasurementError`
    naming the holder's pid."""
    path = lock_path(device)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 - closed in finally
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown"
                    raise MeasurementError(f"device {device!r} is being measured by another process (pid {holder}, lock {path}); "
                                           f"gave up after {timeout_s:g} s") from None
                time.sleep(poll_s)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield path
    finally:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        finally:
            handle.close()
