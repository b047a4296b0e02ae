"""`detect_async` and friends: the results of the synchronous calls, off the event loop, on threads sized to
the session pool, and safe to cancel."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

import yolo_ffi


def test_detect_async_gives_detect_s_results(model_path: Path, bus: Path) -> None:
    async def main() -> None:
        with yolo_ffi.Detector(model_path, pool_size=2, threads_per_session=1, conf=0.05) as detector:
            expected = detector.detect(bus)
            results = await asyncio.gather(*(detector.detect_async(bus) for _ in range(6)))
            assert all(r == expected for r in results)
            assert detector._executor is not None and detector._executor._max_workers == 2, "one thread per session"
            with pytest.raises(yolo_ffi.ImageDecodeError):
                await detector.detect_async(b"not an image")

    asyncio.run(main())


def test_the_event_loop_runs_while_a_detect_async_call_works(model_path: Path, bus: Path) -> None:
    async def main() -> None:
        with yolo_ffi.Detector(model_path, pool_size=1) as detector:
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.001)

            task = asyncio.create_task(ticker())
            for _ in range(5):
                await detector.detect_async(bus)
            task.cancel()
            # Five inferences take tens of milliseconds: a loop blocked by them would tick a handful of times.
            assert ticks >= 10, ticks

    asyncio.run(main())


def test_a_cancelled_await_leaves_the_detector_working(model_path: Path, bus: Path) -> None:
    async def main() -> None:
        with yolo_ffi.Detector(model_path, pool_size=1, threads_per_session=1) as detector:
            before = detector.stats().detects
            calls = [asyncio.create_task(detector.detect_async(bus)) for _ in range(4)]
            await asyncio.sleep(0)  # the first call starts on the detector's thread
            for call in calls:
                call.cancel()
            results = await asyncio.gather(*calls, return_exceptions=True)
            assert all(isinstance(r, asyncio.CancelledError) for r in results)
            # The call already running finishes on its thread and frees its result; the others never start.
            deadline = time.monotonic() + 30
            while detector.stats().sessions_idle != detector.stats().sessions and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            stats = detector.stats()
            assert stats.sessions_idle == stats.sessions
            assert before <= stats.detects <= before + 4
            assert len(await detector.detect_async(bus)) == len(detector.detect(bus))

    asyncio.run(main())


def test_classify_async_and_closed_detectors(synthetic: Path) -> None:
    async def main() -> None:
        detector = yolo_ffi.Detector(synthetic / "classify_task.onnx")
        top = await detector.classify_async(Path(__file__).parents[1] / "fixtures" / "images" / "rgb.png")
        assert [c.class_id for c in top] == [1, 2, 0]
        assert await detector.wait_ready_async(5)
        detector.close()
        with pytest.raises(yolo_ffi.InvalidHandleError):
            await detector.classify_async(b"x")

    asyncio.run(main())
