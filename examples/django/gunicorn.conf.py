"""gunicorn settings for the example: `gunicorn -c gunicorn.conf.py yolosite.wsgi`."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))

# Divide the cores among the workers, unless the environment says otherwise: a sync worker serves one
# request at a time, so one session with its share of the cores as threads. Left automatic, each worker
# would build sessions for every core, and the workers' threads would fight over them.
_cores = len(os.sched_getaffinity(0))
os.environ.setdefault("YOLO_POOL_SIZE", "1")
os.environ.setdefault("YOLO_THREADS_PER_SESSION", str(max(1, _cores // workers)))
# Import the app (and start the background model load) once in the master: workers fork from it.
preload_app = True


def post_fork(server, worker):
    # ONNX Runtime sessions do not survive fork(): build this worker's own now, before its first request,
    # instead of on that request. Optional: the library notices the fork by itself.
    import yolo_ffi

    yolo_ffi.after_fork()


def on_reload(server):
    # SIGHUP: reload the model in the master before it forks the new workers, so they all serve the file as
    # it is now; the old workers finish their requests on the old model and exit.
    from detection import service

    try:
        service.reload()
    except service.ReloadError as error:
        server.log.error("the model was not reloaded, the previous one keeps serving: %s", error)
    # The workers forked next start from the master's counts: copied now, they are not counted again.
    service.sync_metrics()


def worker_exit(server, worker):
    # The last counts of a worker that leaves, for /metrics in multiprocess mode.
    from detection import service

    service.sync_metrics()


def child_exit(server, worker):
    # prometheus_client's multiprocess mode: drop the live gauges of a worker that is gone.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
