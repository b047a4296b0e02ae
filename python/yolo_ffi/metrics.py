"""Prometheus metrics for yolo_ffi detectors, on prometheus_client (`pip install "yolo-ffi[metrics]"`).

    from prometheus_client import REGISTRY, start_http_server
    from yolo_ffi import Detector
    from yolo_ffi.metrics import DetectorCollector

    detector = Detector("yolo11n.onnx")
    REGISTRY.register(DetectorCollector({"yolo11n": detector}))
    start_http_server(9100)

A scrape reads each detector's lock-free counters (`yolo_stats`, `yolo_stats_stage`): nothing is recorded
on the detect path beyond what the library always counts. The detectors are given as a mapping of label to
`Detector`, or a callable returning one (read at each scrape, for detectors that come and go).
"""

from __future__ import annotations

import ctypes
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Tuple, Union

from . import _capi
from ._errors import check

Detectors = Union[Mapping[str, Any], Callable[[], Mapping[str, Any]]]

#: The stages a call is timed in, as the library names them (`yolo_stage`), without the whole call.
STAGES = tuple(name for name in _capi.STAGES if name != "call")


def _stage(handle: int, stage: str) -> _capi.StageStats:
    raw = _capi.StageStats()
    check(_capi.lib.yolo_stats_stage(handle, _capi.STAGES[stage], ctypes.byref(raw)))
    return raw


def _buckets(raw: _capi.StageStats) -> List[Tuple[str, int]]:
    """Cumulative `(upper bound in seconds, count)` pairs from the library's power-of-two histogram: bucket
    `i` counts times under `2^i` microseconds; the last is open (`+Inf`)."""
    out: List[Tuple[str, int]] = []
    total = 0
    for i, count in enumerate(raw.histogram):
        total += count
        bound = "+Inf" if i == len(raw.histogram) - 1 else repr((1 << i) / 1e6)
        out.append((bound, total))
    return out


class DetectorCollector:
    """A prometheus_client collector of detectors' counters: calls, errors by status, the latency of a call
    and of each of its stages (decode, letterbox, run, head) as histograms in seconds, sessions busy and
    idle, pool waits, the model's state, load time, provider and task."""

    def __init__(self, detectors: Detectors, namespace: str = "yolo_ffi") -> None:
        self._detectors = detectors
        self._namespace = namespace

    def describe(self) -> Iterable[Any]:
        # Registering must not read the detectors (they may not exist yet): no description.
        return []

    def _current(self) -> Dict[str, Any]:
        found = self._detectors() if callable(self._detectors) else self._detectors
        return {label: d for label, d in found.items() if not d.closed}

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        n = self._namespace
        calls = CounterMetricFamily(f"{n}_detect_calls", "Successful detect calls.", labels=["detector"])
        errors = CounterMetricFamily(f"{n}_errors", "Failed detect calls by status.", labels=["detector", "status"])
        latency = HistogramMetricFamily(f"{n}_call_seconds", "Time of a successful detect call.", labels=["detector"])
        stages = HistogramMetricFamily(
            f"{n}_stage_seconds", "Time of each stage of a successful detect call.", labels=["detector", "stage"]
        )
        sessions = GaugeMetricFamily(f"{n}_sessions", "ONNX Runtime sessions by use.", labels=["detector", "use"])
        waits = CounterMetricFamily(f"{n}_pool_waits", "Calls that waited for a free session.", labels=["detector"])
        waited = CounterMetricFamily(
            f"{n}_pool_wait_seconds", "Time calls waited for a free session.", labels=["detector"]
        )
        state = GaugeMetricFamily(
            f"{n}_model_state", "The model's load state (1 for the state it is in).", labels=["detector", "state"]
        )
        load = GaugeMetricFamily(f"{n}_load_seconds", "Time the model load took.", labels=["detector"])
        info = GaugeMetricFamily(
            f"{n}_model_info", "The model file, task and provider.", labels=["detector", "model", "task", "provider"]
        )
        for label, detector in self._current().items():
            stats = detector.stats()
            handle = detector._live()
            calls.add_metric([label], stats.detects)
            for code, count in stats.errors_by_status.items():
                errors.add_metric([label, _capi.STATUS_NAMES.get(code, str(code))], count)
            call = _stage(handle, "call")
            latency.add_metric([label], _buckets(call), call.sum_us / 1e6)
            for stage in STAGES:
                raw = _stage(handle, stage)
                stages.add_metric([label, stage], _buckets(raw), raw.sum_us / 1e6)
            sessions.add_metric([label, "busy"], stats.sessions - stats.sessions_idle)
            sessions.add_metric([label, "idle"], stats.sessions_idle)
            waits.add_metric([label], stats.pool_waits)
            waited.add_metric([label], stats.pool_wait_seconds)
            for name in ("loading", "ready", "failed"):
                state.add_metric([label, name], 1.0 if stats.state.name.lower() == name else 0.0)
            if stats.load_time is not None:
                load.add_metric([label], stats.load_time)
            ready = stats.state.name.lower() == "ready"
            info.add_metric([label, detector.model_path, detector.task if ready else "", stats.provider or ""], 1.0)
        yield from (calls, errors, latency, stages, sessions, waits, waited, state, load, info)
