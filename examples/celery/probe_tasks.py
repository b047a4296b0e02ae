"""A task for the tests only (loaded with `celery worker --include probe_tasks`): it records which process
started it, waits, then detects, so that a test can kill the process in the middle of a task."""

from __future__ import annotations

import os
import time
from typing import Any, Dict

from yolo_tasks import app, detect


@app.task(name="yolo.probe_slow_detect")
def slow_detect(image_b64: str, marker: str, seconds: float) -> Dict[str, Any]:
    with open(marker, "a", encoding="utf-8") as log:
        log.write(f"{os.getpid()}\n")
    time.sleep(seconds)
    return detect(image_b64)
