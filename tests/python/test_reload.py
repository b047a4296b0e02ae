"""Detector.reload through the wheel: the model and settings change while threads call, results name their
classes as their own model does, a refused or failed reload leaves the model serving, settings given at
construction carry over, and the asyncio form keeps the loop free."""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import os
import threading

import numpy as np
import pytest

import yolo_ffi


def test_reload_swaps_the_model_while_threads_call(model_path, synthetic, bus):
    with yolo_ffi.Detector(model_path, pool_size=2, conf=0.3) as detector:
        first = detector.detect(bus)
        first_names = detector.names
        other = yolo_ffi.Detector(synthetic / "v8_fixed.onnx", conf=0.3)
        second = other.detect(bus)
        second_names = other.names
        other.close()
        assert first_names != second_names
        stop = threading.Event()
        seen: list = []
        failures: list = []

        def client() -> None:
            while not stop.is_set():
                try:
                    found = detector.detect(bus)
                except Exception as error:  # noqa: BLE001
                    failures.append(error)
                    continue
                seen.append(found)

        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        for swap in range(6):
            detector.reload(synthetic / "v8_fixed.onnx" if swap % 2 == 0 else model_path)
        stop.set()
        for thread in threads:
            thread.join()
        assert not failures
        assert all(found in (first, second) for found in seen), "every result is one model's own"
        assert any(found == first for found in seen) and any(found == second for found in seen)
        # conf=0.3 carried over from the constructor to every reload.
        assert detector.detect(bus) == first
        assert detector.names == first_names and detector.model_path == str(model_path)
        stats = detector.reload_stats()
        assert (stats.reloads, stats.failures, stats.running, stats.last_status) == (6, 0, False, 0)
        assert stats.last_duration is not None and stats.last_duration > 0


def test_sha256_is_the_loaded_files_and_follows_a_reload(model_path, synthetic, tmp_path):
    copy = tmp_path / "model.onnx"
    copy.write_bytes(model_path.read_bytes())
    with yolo_ffi.Detector(copy) as detector:
        assert detector.sha256 == hashlib.sha256(model_path.read_bytes()).hexdigest()
        # Replaced on disk by a rename, as deployments do: the loaded model's digest stays until a reload.
        other = tmp_path / "other.onnx"
        other.write_bytes((synthetic / "v8_fixed.onnx").read_bytes())
        os.replace(other, copy)
        assert detector.sha256 == hashlib.sha256(model_path.read_bytes()).hexdigest()
        detector.reload()
        assert detector.sha256 == hashlib.sha256((synthetic / "v8_fixed.onnx").read_bytes()).hexdigest()
        assert detector.names[0] == "person", "the same path, read again"
    with yolo_ffi.Detector(synthetic / "v8_fixed.onnx") as detector:
        short = (ctypes.c_uint8 * 16)()
        assert yolo_ffi._capi.lib.yolo_model_sha256(detector._live(), short, 16) == yolo_ffi.InvalidArgumentError.status_code
        assert bytes(short) == bytes(16), "nothing written on failure"


def test_a_failed_or_refused_reload_keeps_the_model(model_path, synthetic, bus):
    with yolo_ffi.Detector(model_path) as detector:
        before = detector.detect(bus)
        with pytest.raises(yolo_ffi.ModelLoadError, match="keeps serving"):
            detector.reload(synthetic / "missing.onnx")
        with pytest.raises(yolo_ffi.InvalidModelError, match="task"):
            detector.reload(synthetic / "seg_fixed.onnx", keep_task=True)
        with pytest.raises(yolo_ffi.InvalidModelError, match="classes"):
            detector.reload(synthetic / "v8_fixed.onnx", keep_class_count=True)
        with pytest.raises(TypeError, match="colour"):
            detector.reload(colour=True)
        with pytest.raises(yolo_ffi.InvalidArgumentError, match="conf_threshold"):
            detector.reload(conf=2.0)
        assert detector.detect(bus) == before and detector.model_path == str(model_path)
        stats = detector.reload_stats()
        assert (stats.reloads, stats.failures) == (0, 3)
        assert stats.last_status == yolo_ffi.InvalidModelError.status_code


def test_a_reload_to_another_task_changes_what_the_detector_answers(model_path, synthetic):
    image = np.full((64, 64, 3), 90, np.uint8)
    with yolo_ffi.Detector(model_path) as detector:
        assert detector.task == "detect"
        detector.reload(synthetic / "seg_fixed.onnx")
        assert detector.task == "segment" and detector.names == {0: "a", 1: "b"}
        found = detector.detect(image)
        assert found and all(d.mask is not None and d.class_name in ("a", "b") for d in found)
        detector.reload(synthetic / "semantic_ids.onnx")
        class_map = detector.semantic(np.full((64, 128, 3), 90, np.uint8))
        assert class_map.ids.shape == (64, 128) and set(class_map.names) == {0, 1}


def test_reload_async_keeps_the_event_loop_free(model_path, synthetic, bus, tmp_path):
    # The reload's model is a FIFO: its load blocks in open() until this test opens the other end, so the
    # loop provably runs while the reload does.
    fifo = tmp_path / "model.onnx"
    os.mkfifo(fifo)

    async def main() -> None:
        with yolo_ffi.Detector(model_path) as detector:
            before = detector.detect(bus)
            reload = asyncio.ensure_future(detector.reload_async(fifo))
            while not detector.reload_stats().running:
                await asyncio.sleep(0.001)
            assert not reload.done()
            assert await detector.detect_async(bus) == before, "the loop and the model serve meanwhile"
            # Open and close the writing end: the load reads an empty file and fails.
            await asyncio.get_running_loop().run_in_executor(None, lambda: open(fifo, "wb").close())
            with pytest.raises(yolo_ffi.ModelLoadError, match="empty"):
                await reload
            await detector.reload_async(synthetic / "v8_fixed.onnx")
            assert detector.names[0] == "person"

    asyncio.run(main())
