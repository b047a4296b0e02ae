"""The SIGTERM soak's control app: `yolo_tasks`' Celery settings and a task as long as a detection, with no
yolo-ffi in the worker (nothing imported, no model loaded, nothing done after the fork). A hang the soak
finds with this app too is Celery's, not the library's:
    python soak_sigterm.py --app control_tasks --task control.sleep ...
With CONTROL_WITH_GUARD=1 in the environment it arms `shutdown_guard` as `yolo_tasks` does.
"""

from __future__ import annotations

import os
import time

from celery import Celery

from worker_settings import WORKER_SETTINGS

if os.environ.get("CONTROL_WITH_GUARD") == "1":
    import shutdown_guard  # noqa: F401  (the example's guard, to check it on a worker without yolo-ffi)

BROKER = os.environ.get("YOLO_CELERY_BROKER", "redis://127.0.0.1:6379/0")

app = Celery("control_tasks", broker=BROKER, backend=BROKER)
app.conf.update(WORKER_SETTINGS)


@app.task(name="control.sleep")
def sleep(image_b64: str) -> int:
    """Sleeps for about as long as `yolo.detect` takes on the demo model; returns the argument's length."""
    time.sleep(0.04)
    return len(image_b64)
