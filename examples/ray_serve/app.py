"""A Ray Serve deployment of yolo-ffi: replicas that each hold one preloaded detector, behind Serve's HTTP
proxy. POST an encoded image to the route; the reply is JSON with the model's name and the detections.

    serve run app:build model=/path/to/model.onnx imgsz=320 replicas=2

On several machines, start Ray on each (`ray start --head` on one, `ray start --address=HEAD:6379` on the
others) and run the same command on the head: Serve spreads the replicas over the cluster.
"""

from __future__ import annotations

import os
from typing import Any, Dict

from ray import serve
from ray.serve import Application
from starlette.requests import Request

import yolo_ffi


@serve.deployment(ray_actor_options={"num_cpus": 1}, max_ongoing_requests=4)
class YoloDetector:
    """One replica: a Ray actor process holding one detector, loaded once when the replica starts."""

    def __init__(self, model: str, imgsz: int, threads: int) -> None:
        # One session per replica: the replicas are the parallelism, each pinned to its own core's worth.
        self.detector = yolo_ffi.Detector(model, imgsz=imgsz, pool_size=1, threads_per_session=threads)
        self.model = os.path.basename(model)

    async def __call__(self, request: Request) -> Dict[str, Any]:
        found = await self.detector.detect_async(await request.body())  # off the replica's event loop
        return {
            "model": self.model,
            "replica_pid": os.getpid(),
            "detections": [
                {"class_id": d.class_id, "class_name": d.class_name, "score": d.score, "box": list(d.box)}
                for d in found
            ],
        }

    def check_health(self) -> None:
        """Serve's periodic health check: a replica whose detector is not ready is restarted."""
        if self.detector.stats().sessions == 0:
            raise RuntimeError("the detector has no session")


def build(args: Dict[str, str]) -> Application:
    """The application for `serve run app:build model=... [imgsz=640] [replicas=2] [threads=1]`."""
    return YoloDetector.options(num_replicas=int(args.get("replicas", 2))).bind(
        args["model"], int(args.get("imgsz", 640)), int(args.get("threads", 1))
    )
