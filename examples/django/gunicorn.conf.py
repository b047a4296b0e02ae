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
