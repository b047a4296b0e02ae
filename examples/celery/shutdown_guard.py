"""A guard against a hang of Celery's prefork pool at warm shutdown.

Celery 5.7 with billiard 4.3 can wait for ever after SIGTERM: when a task message is received as the warm
shutdown begins, a pool process may never get the message that tells it to stop, and the main process
waits for it in `Pool.join`. A worker of `control_tasks` (the same settings, a task that only sleeps, no
yolo-ffi) hangs the same way under `soak_sigterm.py` (docs/scale-out.md). Once the shutdown has run for `YOLO_CELERY_SHUTDOWN_GRACE` seconds (default 30:
far longer than a detection), this guard ends the pool processes still alive: SIGTERM, then SIGKILL 5 s
later. A task they were running is not lost: the app acknowledges late and rejects tasks whose process
died, so the broker delivers it again.

Linux only (it finds the pool processes in /proc); elsewhere it does nothing.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, List

from celery.signals import worker_shutting_down

GRACE_SECONDS = float(os.environ.get("YOLO_CELERY_SHUTDOWN_GRACE", "30"))
KILL_AFTER_SECONDS = 5.0

logger = logging.getLogger(__name__)


def pool_processes(pid: int) -> List[int]:
    """The children of process `pid` (its pool processes), from /proc; empty where there is none."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _end_pool(main: int) -> None:
    time.sleep(GRACE_SECONDS)
    for sig, wait in ((signal.SIGTERM, KILL_AFTER_SECONDS), (signal.SIGKILL, 0.0)):
        left = pool_processes(main)
        if not left:
            return
        logger.warning("shutdown guard: pool processes %s still alive %.0f s into the warm shutdown; sending %s",
                       left, GRACE_SECONDS, sig.name)
        for pid in left:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        time.sleep(wait)


@worker_shutting_down.connect
def guard(**_: Any) -> None:
    """Called in the main worker process as its shutdown begins: arms the guard (a daemon thread, which
    ends with the process when the shutdown completes in time)."""
    threading.Thread(target=_end_pool, args=(os.getpid(),), name="shutdown-guard", daemon=True).start()
