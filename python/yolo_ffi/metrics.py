"""Prometheus metrics for yolo_ffi detectors, on prometheus_client (`pip install "yolo-ffi[metrics]"`).

One process (a thread-pool server, uvicorn with one worker):

    from prometheus_client import REGISTRY, start_http_server
    from yolo_ffi import Detector
    from yolo_ffi.metrics import DetectorCollector

    detector = Detector("yolo11n.onnx")
    REGISTRY.register(DetectorCollector({"yolo11n": detector}))
    start_http_server(9100)

A scrape reads each detector's lock-free counters (`yolo_stats`, `yolo_stats_stage`, `yolo_stats_reload`):
nothing is recorded on the detect path beyond what the library always counts. The detectors are given as a
mapping of label to `Detector`, or a callable returning one (read at each scrape, for detectors that come
and go).

Several processes (gunicorn workers, Celery's prefork pool): a scrape reaches one process, so each process
copies its detectors' counters into prometheus_client's multiprocess files, as prometheus_client documents
for such servers (`PROMETHEUS_MULTIPROC_DIR` set before the processes start; `MultiProcessCollector` in the
endpoint; `mark_process_dead` when a worker exits):

    exporter = MultiProcessExporter({"yolo11n": detector}, interval=5.0)
    exporter.start()  # a thread per process, started again in each forked child

The same metrics then come out summed over the processes (counters, histograms, sessions) or one series
per process (`pid` label: state, load time, model info). Histogram buckets and counts are exact; their
`_sum` counts each call at the middle of its bucket (within a third of the true time): the exact total time
is the counter `<namespace>_stage_time_seconds_total`.
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import os
import threading
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, Union

from . import _capi
from ._errors import check

Detectors = Union[Mapping[str, Any], Callable[[], Mapping[str, Any]]]

#: The stages a call is timed in, as the library names them (`yolo_stage`), without the whole call.
STAGES = tuple(name for name in _capi.STAGES if name != "call")
#: The load states, as the library names them.
STATES = ("loading", "ready", "failed")


@dataclasses.dataclass
class Reading:
    """What one scrape reads of one detector."""

    stats: Any
    """`Detector.stats()`."""
    times: Dict[str, _capi.StageStats]
    """The call (`"call"`) and each stage's times."""
    batch_runs: int
    batch_calls: int
    reloads: Any
    """`Detector.reload_stats()`."""
    model: str
    task: str
    provider: str
    sha256: str
    fell_back: bool


def read(detector: Any) -> Reading:
    """Reads everything the metrics show of `detector` (the model facts only once it is ready)."""
    stats = detector.stats()
    handle = detector._live()
    times = {}
    for stage in ("call",) + STAGES:
        raw = _capi.StageStats()
        check(_capi.lib.yolo_stats_stage(handle, _capi.STAGES[stage], ctypes.byref(raw)))
        times[stage] = raw
    ready = stats.state.name.lower() == "ready"
    runs, calls, _ = detector.batch_stats() if ready else (0, 0, 0.0)
    return Reading(
        stats=stats,
        times=times,
        batch_runs=runs,
        batch_calls=calls,
        reloads=detector.reload_stats(),
        model=os.path.basename(detector.model_path),
        task=detector.task if ready else "",
        provider=stats.provider or "",
        sha256=detector.sha256 if ready else "",
        fell_back=detector.fell_back if ready else False,
    )


def _bounds(raw: _capi.StageStats) -> List[float]:
    """The upper bounds in seconds of the library's power-of-two histogram: bucket `i` counts times under
    `2^i` microseconds; the last is open (`+Inf`)."""
    return [(1 << i) / 1e6 for i in range(len(raw.histogram) - 1)] + [float("inf")]


def _buckets(raw: _capi.StageStats) -> List[Tuple[str, int]]:
    """Cumulative `(upper bound, count)` pairs of a histogram."""
    out: List[Tuple[str, int]] = []
    total = 0
    for bound, count in zip(_bounds(raw), raw.histogram):
        total += count
        out.append(("+Inf" if bound == float("inf") else repr(bound), total))
    return out


def _current(detectors: Detectors) -> Dict[str, Any]:
    found = detectors() if callable(detectors) else detectors
    return {label: d for label, d in found.items() if not d.closed}


# The metric names and help texts, shared by the collector and the exporter.
_HELP = {
    "detect_calls": "Successful detect calls.",
    "errors": "Failed detect calls by status.",
    "call_seconds": "Time of a successful detect call.",
    "stage_seconds": "Time of each stage of a successful detect call.",
    "stage_time_seconds": "Total time of each stage (and of the whole call) of the successful detect calls.",
    "sessions": "ONNX Runtime sessions by use.",
    "pool_waits": "Calls that waited for a free session.",
    "pool_wait_seconds": "Time calls waited for a free session.",
    "batched_runs": "Batched runs of cross-caller batching.",
    "batched_calls": "Detect calls those batched runs carried.",
    "model_state": "The model's load state (1 for the state it is in).",
    "load_seconds": "Time the model load took.",
    "reloads": "Reloads by outcome (ok: the new model serves; failed: the previous one kept serving).",
    "reload_seconds": "Time the last reload that ended took.",
    "reload_running": "Whether a reload runs now.",
    "provider_fallback": "1 when the model runs on another execution provider than the first one asked for.",
    "model_info": "The model file, its SHA-256, task and provider.",
}


class DetectorCollector:
    """A prometheus_client collector of detectors' counters, for one process: calls, errors by status, the
    latency of a call and of each of its stages (decode, letterbox, run, head) as histograms in seconds,
    sessions busy and idle, pool waits, batching, the model's state, load time, reloads, provider fall-back,
    and the model's file, SHA-256, task and provider."""

    def __init__(self, detectors: Detectors, namespace: str = "yolo_ffi") -> None:
        self._detectors = detectors
        self._namespace = namespace

    def describe(self) -> Iterable[Any]:
        # Registering must not read the detectors (they may not exist yet): no description.
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        n = self._namespace
        d = ["detector"]

        def counter(name: str, labels: List[str]) -> Any:
            return CounterMetricFamily(f"{n}_{name}", _HELP[name], labels=labels)

        def gauge(name: str, labels: List[str]) -> Any:
            return GaugeMetricFamily(f"{n}_{name}", _HELP[name], labels=labels)

        calls, errors = counter("detect_calls", d), counter("errors", d + ["status"])
        latency = HistogramMetricFamily(f"{n}_call_seconds", _HELP["call_seconds"], labels=d)
        stages = HistogramMetricFamily(f"{n}_stage_seconds", _HELP["stage_seconds"], labels=d + ["stage"])
        stage_time = counter("stage_time_seconds", d + ["stage"])
        sessions = gauge("sessions", d + ["use"])
        waits, waited = counter("pool_waits", d), counter("pool_wait_seconds", d)
        batched_runs, batched_calls = counter("batched_runs", d), counter("batched_calls", d)
        state, load = gauge("model_state", d + ["state"]), gauge("load_seconds", d)
        reloads, reload_time = counter("reloads", d + ["outcome"]), gauge("reload_seconds", d)
        reload_running, fallback = gauge("reload_running", d), gauge("provider_fallback", d)
        info = gauge("model_info", d + ["model", "sha256", "task", "provider"])
        for label, detector in _current(self._detectors).items():
            r = read(detector)
            calls.add_metric([label], r.stats.detects)
            for code, count in r.stats.errors_by_status.items():
                errors.add_metric([label, _capi.STATUS_NAMES.get(code, str(code))], count)
            latency.add_metric([label], _buckets(r.times["call"]), r.times["call"].sum_us / 1e6)
            for stage in STAGES:
                stages.add_metric([label, stage], _buckets(r.times[stage]), r.times[stage].sum_us / 1e6)
            for stage, raw in r.times.items():
                stage_time.add_metric([label, stage], raw.sum_us / 1e6)
            sessions.add_metric([label, "busy"], r.stats.sessions - r.stats.sessions_idle)
            sessions.add_metric([label, "idle"], r.stats.sessions_idle)
            waits.add_metric([label], r.stats.pool_waits)
            waited.add_metric([label], r.stats.pool_wait_seconds)
            batched_runs.add_metric([label], r.batch_runs)
            batched_calls.add_metric([label], r.batch_calls)
            for name in STATES:
                state.add_metric([label, name], 1.0 if r.stats.state.name.lower() == name else 0.0)
            if r.stats.load_time is not None:
                load.add_metric([label], r.stats.load_time)
            reloads.add_metric([label, "ok"], r.reloads.reloads)
            reloads.add_metric([label, "failed"], r.reloads.failures)
            if r.reloads.last_duration is not None:
                reload_time.add_metric([label], r.reloads.last_duration)
            reload_running.add_metric([label], 1.0 if r.reloads.running else 0.0)
            fallback.add_metric([label], 1.0 if r.fell_back else 0.0)
            info.add_metric([label, r.model, r.sha256, r.task, r.provider], 1.0)
        yield from (calls, errors, latency, stages, stage_time, sessions, waits, waited, batched_runs, batched_calls)
        yield from (state, load, reloads, reload_time, reload_running, fallback, info)


class MultiProcessExporter:
    """Copies this process's detectors' counters into prometheus_client's multiprocess files (see the module's
    documentation), on a thread every `interval` seconds, and on `sync()`. Needs `PROMETHEUS_MULTIPROC_DIR`.
    The `model_info` series of the model serving has the value 1; a model replaced by a reload keeps a
    series at 0 in the files.

    Counters advance by what the library counted since the last copy; a forked child starts from what it
    inherited, so the parent's calls are not counted twice once the parent has copied them."""

    def __init__(self, detectors: Detectors, namespace: str = "yolo_ffi", interval: float = 5.0) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            raise ValueError("MultiProcessExporter needs PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode)")
        if not interval > 0:
            raise ValueError(f"interval must be a positive number of seconds, not {interval!r}")
        self._detectors = detectors
        self._interval = float(interval)
        n, d = namespace, ["detector"]
        # Registered nowhere: in multiprocess mode the values live in files, which MultiProcessCollector reads.
        bounds = _bounds(_capi.StageStats())

        def counter(name: str, labels: List[str]) -> Any:
            return Counter(f"{n}_{name}", _HELP[name], labels, registry=None)

        def gauge(name: str, labels: List[str], mode: Any) -> Any:
            return Gauge(f"{n}_{name}", _HELP[name], labels, registry=None, multiprocess_mode=mode)

        self._calls, self._errors = counter("detect_calls", d), counter("errors", d + ["status"])
        self._latency = Histogram(f"{n}_call_seconds", _HELP["call_seconds"], d, registry=None, buckets=bounds)
        self._stages = Histogram(
            f"{n}_stage_seconds", _HELP["stage_seconds"], d + ["stage"], registry=None, buckets=bounds
        )
        self._stage_time = counter("stage_time_seconds", d + ["stage"])
        self._waits, self._waited = counter("pool_waits", d), counter("pool_wait_seconds", d)
        self._batched_runs, self._batched_calls = counter("batched_runs", d), counter("batched_calls", d)
        self._reloads = counter("reloads", d + ["outcome"])
        self._sessions = gauge("sessions", d + ["use"], "livesum")
        self._reload_running = gauge("reload_running", d, "livesum")
        self._fallback = gauge("provider_fallback", d, "livemax")
        self._state = gauge("model_state", d + ["state"], "liveall")
        self._load = gauge("load_seconds", d, "liveall")
        self._reload_time = gauge("reload_seconds", d, "liveall")
        self._info = gauge("model_info", d + ["model", "sha256", "task", "provider"], "liveall")
        # Per detector label: the counts copied so far, by metric and labels.
        self._copied: Dict[str, Dict[Tuple[str, ...], float]] = {}
        self._infos: Dict[str, Tuple[str, ...]] = {}
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()

    def _advance(self, label: str, key: Tuple[str, ...], total: float, metric: Any) -> None:
        """Advances `metric` (a counter child) to `total` from what was copied before."""
        copied = self._copied.setdefault(label, {})
        delta = total - copied.get(key, 0.0)
        if delta > 0:
            metric.inc(delta)
        copied[key] = max(total, copied.get(key, 0.0))

    def _observe(self, label: str, key: Tuple[str, ...], raw: _capi.StageStats, metric: Any) -> None:
        """Adds to the histogram `metric` the times counted since the last copy, each at its bucket's middle
        (so each lands in its own bucket)."""
        copied = self._copied.setdefault(label, {})
        for i, count in enumerate(raw.histogram):
            bucket = key + (str(i),)
            delta = int(count - copied.get(bucket, 0))
            if delta > 0:
                middle = (1.5 * (1 << (i - 1)) if i else 0.5) / 1e6
                for _ in range(delta):
                    metric.observe(middle)
                copied[bucket] = count

    def sync(self) -> None:
        """Copies the counters now."""
        with self._lock:
            for label, detector in _current(self._detectors).items():
                r = read(detector)
                self._advance(label, ("calls",), r.stats.detects, self._calls.labels(label))
                for code, count in r.stats.errors_by_status.items():
                    status = _capi.STATUS_NAMES.get(code, str(code))
                    self._advance(label, ("errors", status), count, self._errors.labels(label, status))
                self._observe(label, ("call",), r.times["call"], self._latency.labels(label))
                for stage in STAGES:
                    self._observe(label, ("stage", stage), r.times[stage], self._stages.labels(label, stage))
                for stage, raw in r.times.items():
                    child = self._stage_time.labels(label, stage)
                    self._advance(label, ("stage_time", stage), raw.sum_us / 1e6, child)
                self._advance(label, ("waits",), r.stats.pool_waits, self._waits.labels(label))
                self._advance(label, ("waited",), r.stats.pool_wait_seconds, self._waited.labels(label))
                self._advance(label, ("runs",), r.batch_runs, self._batched_runs.labels(label))
                self._advance(label, ("batched",), r.batch_calls, self._batched_calls.labels(label))
                self._advance(label, ("reloads", "ok"), r.reloads.reloads, self._reloads.labels(label, "ok"))
                self._advance(label, ("reloads", "failed"), r.reloads.failures, self._reloads.labels(label, "failed"))
                self._sessions.labels(label, "busy").set(r.stats.sessions - r.stats.sessions_idle)
                self._sessions.labels(label, "idle").set(r.stats.sessions_idle)
                self._reload_running.labels(label).set(1.0 if r.reloads.running else 0.0)
                self._fallback.labels(label).set(1.0 if r.fell_back else 0.0)
                for name in STATES:
                    self._state.labels(label, name).set(1.0 if r.stats.state.name.lower() == name else 0.0)
                if r.stats.load_time is not None:
                    self._load.labels(label).set(r.stats.load_time)
                if r.reloads.last_duration is not None:
                    self._reload_time.labels(label).set(r.reloads.last_duration)
                info = (label, r.model, r.sha256, r.task, r.provider)
                previous = self._infos.get(label)
                if previous not in (None, info):
                    # The files keep every series written: the replaced model's goes to 0.
                    self._info.labels(*previous).set(0.0)
                self._infos[label] = info
                self._info.labels(*info).set(1.0)

    def start(self) -> None:
        """Starts the copying thread in this process, and again in every child forked from it (a thread does
        not survive `fork()`). Idempotent."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="yolo-ffi-metrics", daemon=True)
            self._thread.start()
            if not getattr(self, "_fork_hook", False):
                os.register_at_fork(after_in_child=self._restart_in_child)
                self._fork_hook = True

    def stop(self) -> None:
        """Stops the thread after one last copy."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join()
        self.sync()

    def _restart_in_child(self) -> None:
        # The lock may have been held by the parent's thread at fork(): the child gets a fresh one.
        self._lock = threading.Lock()
        self._thread = None
        self._stop = threading.Event()
        self.start()

    def _run(self) -> None:
        failing = False
        while not self._stop.wait(self._interval):
            try:
                self.sync()
                failing = False
            except Exception as error:  # noqa: BLE001  a full disk must not end the thread: say so, once
                if not failing:
                    logging.getLogger("yolo_ffi").warning("copying the metrics failed: %s", error)
                failing = True
