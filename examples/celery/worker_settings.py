"""The Celery settings of the example's workers, shared by `yolo_tasks` and the SIGTERM soak's control app
(`control_tasks`), so that the two differ only in what their task runs."""

from __future__ import annotations

from typing import Any, Dict

WORKER_SETTINGS: Dict[str, Any] = dict(
    # A task is acknowledged when it ends, not when it starts, and a task whose worker process dies is put
    # back on the queue: a worker killed mid-task (OOM, SIGKILL) loses nothing.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # One task at a time per process: a long queue is not hoarded by one busy process.
    worker_prefetch_multiplier=1,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=3600,
    broker_connection_retry_on_startup=True,
    # Lets the `yolo_reload` control command restart the pool processes (each ends after its current task),
    # so that the new ones fork from the main process's reloaded model.
    worker_pool_restarts=True,
)
