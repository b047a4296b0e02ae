"""Semantic segmentation and depth through the Python package: `Detector.semantic` and `Detector.depth`
against Ultralytics 8.4.190's results on the repository's fixtures (tests/fixtures/maps/, made by
scripts/make_map_fixtures.py), the arrays' lifetime (views of the library's memory that outlive the call),
the errors for the wrong call, and the CLI's JSON, `.npy` and pictures."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest

import yolo_ffi

MAPS = Path(__file__).resolve().parent.parent / "fixtures" / "maps"
REFERENCE: Dict[str, Any] = json.loads((MAPS / "reference.json").read_text())
IMGSZ = REFERENCE["settings"]["imgsz"]


def _expand(runs: List[List[int]]) -> np.ndarray:
    return np.concatenate([np.full(length, class_id, dtype=np.uint32) for class_id, length in runs])


@pytest.mark.parametrize("model", ["shapes26-sem.onnx", "shapes26-sem-logits.onnx"])
def test_class_maps_match_ultralytics(model: str) -> None:
    with yolo_ffi.Detector(MAPS / model, imgsz=IMGSZ) as detector:
        assert detector.task == "semantic"
        for name, expected in REFERENCE["models"][model]["images"].items():
            found = detector.semantic(MAPS / "images" / name)
            assert isinstance(found, yolo_ffi.ClassMap)
            assert found.ids.shape == (expected["height"], expected["width"]) and found.ids.dtype == np.uint8
            equal = float(np.mean(found.ids.ravel() == _expand(expected["runs"])))
            assert equal >= 0.995, f"{model} {name}: {equal:.4%} of pixels equal"
            assert found.counts.tolist() == np.bincount(found.ids.ravel(), minlength=len(found.counts)).tolist()
            assert found.names[3] == "background"


def test_depth_maps_match_ultralytics() -> None:
    model = "shapes26-depth.onnx"
    with yolo_ffi.Detector(MAPS / model, imgsz=IMGSZ) as detector:
        assert detector.task == "depth"
        for name, expected in REFERENCE["models"][model]["images"].items():
            depth = detector.depth(MAPS / "images" / name)
            reference = np.fromfile(MAPS / expected["file"], dtype="<f4").reshape(expected["height"], expected["width"])
            assert depth.dtype == np.float32 and depth.shape == reference.shape
            assert float(np.max(np.abs(depth - reference) / np.abs(reference))) <= 1e-3, name


def test_maps_are_read_only_views_that_outlive_the_detector() -> None:
    with yolo_ffi.Detector(MAPS / "shapes26-depth.onnx", imgsz=IMGSZ) as detector:
        depth = detector.depth(MAPS / "images" / "maps_1.png")
    expected = depth.copy()
    assert not depth.flags.writeable and not depth.flags.owndata
    with pytest.raises(ValueError):
        depth[0, 0] = 1.0
    # The detector is closed and the call long returned: the view still holds the library's result.
    gc.collect()
    np.testing.assert_array_equal(depth, expected)
    view = depth[10:20]
    del depth
    gc.collect()
    np.testing.assert_array_equal(view, expected[10:20])


def test_each_task_answers_its_own_call() -> None:
    with yolo_ffi.Detector(MAPS / "shapes26-sem.onnx", imgsz=IMGSZ) as detector:
        for call in (detector.detect, detector.classify, detector.depth):
            with pytest.raises(ValueError, match="semantic"):
                call(MAPS / "images" / "maps_1.png")


def test_cli_prints_and_draws_maps(tmp_path: Path) -> None:
    image = MAPS / "images" / "maps_2.png"
    run = subprocess.run(
        [sys.executable, "-m", "yolo_ffi", str(MAPS / "shapes26-sem.onnx"), str(image), "--imgsz", str(IMGSZ),
         "--json", "--save", str(tmp_path / "sem.png")],
        capture_output=True, text=True, check=True,
    )
    line = json.loads(run.stdout)
    expected = REFERENCE["models"]["shapes26-sem.onnx"]["images"]["maps_2.png"]
    classes = line["class_map"]["classes"]
    assert {c["class_id"]: c["pixels"] for c in classes} == {i: n for i, n in enumerate(expected["counts"]) if n}
    rebuilt = np.zeros(expected["width"] * expected["height"], dtype=np.uint32)
    for c in classes:
        for start, length in c["runs"]:
            rebuilt[start : start + length] = c["class_id"]
    assert np.array_equal(rebuilt, _expand(expected["runs"]))
    assert (tmp_path / "sem.png").stat().st_size > 0
    run = subprocess.run(
        [sys.executable, "-m", "yolo_ffi", str(MAPS / "shapes26-depth.onnx"), str(image), "--imgsz", str(IMGSZ),
         "--json", "--npy", str(tmp_path), "--save", str(tmp_path / "depth.png")],
        capture_output=True, text=True, check=True,
    )
    summary = json.loads(run.stdout)["depth_map"]
    saved = np.load(summary["npy"])
    expected = REFERENCE["models"]["shapes26-depth.onnx"]["images"]["maps_2.png"]
    assert saved.shape == (expected["height"], expected["width"])
    assert summary["min"] == pytest.approx(expected["min"], rel=1e-3) and summary["max"] == pytest.approx(expected["max"], rel=1e-3)
    assert (tmp_path / "depth.png").stat().st_size > 0
