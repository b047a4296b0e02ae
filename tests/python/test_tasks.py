"""Every task through the Python package: parity with Ultralytics' `predict` on the trained shapes models
(`../shared/reference/ultralytics-tasks.json`, developers and CI only: skipped without it), the task
queries, and the errors for the wrong call."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import numpy as np
import pytest

import yolo_ffi

from conftest import SHARED, needs_shared

REFERENCE = SHARED / "reference" / "ultralytics-tasks.json"
MARGIN = 0.02  # scores this close to the threshold may fall on either side (the reference says so)

needs_reference = needs_shared(REFERENCE)


def _reference() -> Dict[str, Any]:
    return json.loads(REFERENCE.read_text())


def _runs(task: str) -> Iterator[Dict[str, Any]]:
    # rect=False asks Ultralytics for the full square on a dynamic model, which the library does not offer.
    return (r for r in _reference()["models"][task]["runs"] if r["settings"].get("rect", True))


def _open(task: str, settings: Dict[str, Any]) -> yolo_ffi.Detector:
    model = SHARED / "models" / _reference()["models"][task]["file"]
    return yolo_ffi.Detector(
        model,
        pool_size=1,
        imgsz=settings["imgsz"],
        conf=settings["conf"],
        iou=settings["iou"],
        max_det=settings["max_det"],
        agnostic=settings["agnostic_nms"],
        retina_masks=settings.get("retina_masks", False),
    )


def _iou(a: List[float], b: Tuple[float, float, float, float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _match(expected: List[List[float]], got: List[yolo_ffi.Detection], conf: float, label: str) -> List[Any]:
    """For each reference box, the index of ours (same class, IoU >= 0.95, score within 0.02) or None; an
    unmatched box on either side fails unless its score is within the margin of the threshold."""
    taken = [False] * len(got)
    pairs: List[Any] = []
    for row in expected:
        candidates = [(_iou(row[2:6], d.box), j) for j, d in enumerate(got) if not taken[j] and d.class_id == row[0]]
        best = max(candidates, default=(0.0, None))
        j = best[1]
        if j is not None and best[0] >= 0.95 and abs(got[j].score - row[1]) <= 0.02:
            taken[j] = True
            pairs.append(j)
        else:
            assert abs(row[1] - conf) <= MARGIN, f"{label}: reference box {row} unmatched"
            pairs.append(None)
    for j, d in enumerate(got):
        assert taken[j] or abs(d.score - conf) <= MARGIN, f"{label}: extra box {d}"
    return pairs


def _rle_decode(counts: List[int], size: int) -> np.ndarray:
    values = np.zeros(len(counts), dtype=bool)
    values[1::2] = True
    return np.repeat(values, counts).reshape(-1)[:size]


@needs_reference
def test_segmentation_masks_match_ultralytics() -> None:
    compared = 0
    for run in _runs("segment"):
        conf = run["settings"]["conf"]
        with _open("segment", run["settings"]) as detector:
            assert detector.task == "segment"
            for image in run["images"]:
                path = SHARED / "images" / "tasks" / image["file"]
                label = f"{run['id']} {image['file']}"
                got = detector.detect(path)
                pairs = _match(image["detections"], got, conf, label)
                floor = 0.98 if image["file"].endswith(".png") else 0.95
                for i, j in enumerate(pairs):
                    if j is None:
                        continue
                    mask = got[j].mask
                    assert mask is not None
                    ours = mask.full()
                    reference = _rle_decode(image["masks"][i]["rle"], ours.size).reshape(ours.shape)
                    iou = np.logical_and(ours, reference).sum() / max(1, np.logical_or(ours, reference).sum())
                    assert iou >= floor, f"{label}: mask {i} IoU {iou}"
                    # The cropped encoding round-trips.
                    rle = mask.rle()
                    flat = _rle_decode(rle["counts"], rle["width"] * rle["height"])
                    assert np.array_equal(flat.reshape(mask.bitmap.shape), mask.bitmap)
                    compared += 1
    assert compared > 50


@needs_reference
def test_pose_keypoints_match_ultralytics() -> None:
    compared = 0
    for run in _runs("pose"):
        conf = run["settings"]["conf"]
        with _open("pose", run["settings"]) as detector:
            assert detector.task == "pose" and detector.kpt_shape == (5, 3)
            for image in run["images"]:
                got = detector.detect(SHARED / "images" / "tasks" / image["file"])
                pairs = _match(image["detections"], got, conf, image["file"])
                for i, j in enumerate(pairs):
                    if j is None:
                        continue
                    keypoints = got[j].keypoints
                    assert keypoints is not None and keypoints.shape == (5, 3) and keypoints.dtype == np.float32
                    expected = np.array(image["keypoints"][i], dtype=np.float32)
                    assert np.hypot(*(keypoints[:, :2] - expected[:, :2]).T).max() <= 1.0
                    assert np.abs(keypoints[:, 2] - expected[:, 2]).max() <= 0.02
                    compared += 1
    assert compared > 20


@needs_reference
def test_oriented_boxes_match_ultralytics() -> None:
    compared = 0
    for run in _runs("obb"):
        conf = run["settings"]["conf"]
        with _open("obb", run["settings"]) as detector:
            assert detector.task == "obb"
            for image in run["images"]:
                got = detector.detect(SHARED / "images" / "tasks" / image["file"])
                assert all(d.xywhr is not None and d.corners is not None for d in got)
                free = list(range(len(got)))
                for row, corners in zip(image["detections"], image["corners"]):
                    same = [j for j in free if got[j].class_id == row[0]]
                    j = min(same, key=lambda j: math.dist(got[j].xywhr[:2], row[2:4]), default=None)  # type: ignore[index]
                    if j is None:
                        assert abs(row[1] - conf) <= MARGIN, f"{image['file']}: {row} unmatched"
                        continue
                    cx, cy, w, h, r = got[j].xywhr  # type: ignore[misc]
                    assert math.dist((cx, cy), row[2:4]) <= 1.0 and abs(w - row[4]) <= 1 and abs(h - row[5]) <= 1
                    assert abs(r - row[6]) <= 0.01 and abs(got[j].score - row[1]) <= 0.02
                    assert np.abs(np.array(got[j].corners) - np.array(corners)).max() <= 1.0
                    free.remove(j)
                    compared += 1
                assert all(abs(got[j].score - conf) <= MARGIN for j in free), f"{image['file']}: extra boxes"
    assert compared > 20


@needs_reference
def test_classification_matches_ultralytics() -> None:
    (run,) = list(_runs("classify"))
    with _open("classify", run["settings"]) as detector:
        assert detector.task == "classify" and detector.kpt_shape is None
        for image in run["images"]:
            top = detector.classify(SHARED / "images" / "tasks" / image["file"])
            assert [c.class_id for c in top] == image["top5"]
            assert np.allclose([c.probability for c in top], image["top5_probs"], atol=1e-3)
            assert top[0].class_name == detector.names[top[0].class_id]
        assert len(detector.classify(SHARED / "images" / "tasks" / "cls_1.png", top_k=1)) == 1
        with pytest.raises(ValueError, match="classify"):
            detector.detect(SHARED / "images" / "tasks" / "cls_1.png")
        with pytest.raises(ValueError, match="top_k"):
            detector.classify(SHARED / "images" / "tasks" / "cls_1.png", top_k=0)


@needs_reference
def test_detection_models_refuse_classify_and_to_dict_carries_the_task() -> None:
    with _open("obb", {"imgsz": 320, "conf": 0.25, "iou": 0.7, "max_det": 300, "agnostic_nms": False}) as detector:
        with pytest.raises(ValueError, match="detect"):
            detector.classify(SHARED / "images" / "tasks" / "obb_1.png")
        d = detector.detect(SHARED / "images" / "tasks" / "obb_1.png")[0].to_dict()
        assert len(d["xywhr"]) == 5 and len(d["corners"]) == 4
        json.dumps(d)


def test_mask_rle_and_full() -> None:
    bitmap = np.array([[1, 1, 0], [0, 1, 1]], dtype=bool)
    mask = yolo_ffi.Mask(left=2, top=1, bitmap=bitmap, image_width=6, image_height=4)
    assert mask.rle()["counts"] == [0, 2, 2, 2]
    assert yolo_ffi.Mask(0, 0, ~bitmap, 6, 4).rle()["counts"] == [2, 2, 2]
    full = mask.full()
    assert full.shape == (4, 6) and full.sum() == 4 and full[1, 2] and full[2, 4] and not full[0, 2]
    assert mask.area == 4 and (mask.width, mask.height) == (3, 2)
    empty = yolo_ffi.Mask(0, 0, np.zeros((0, 0), dtype=bool), 6, 4)
    assert empty.rle()["counts"] == [] and empty.full().sum() == 0


# -- synthetic task models (every clone) ------------------------------------------------------------------


def _grey(width: int, height: int) -> np.ndarray:
    return np.full((height, width, 3), 90, dtype=np.uint8)


def test_synthetic_segmentation_masks(synthetic: Path) -> None:
    with yolo_ffi.Detector(synthetic / "seg_fixed.onnx") as detector:
        assert detector.task == "segment" and detector.kpt_shape is None
        for retina in (False, True):
            found = detector.detect(_grey(128, 128), retina_masks=retina)
            assert [(d.class_name, d.box) for d in found] == [("a", (16, 16, 48, 48)), ("b", (48, 80, 96, 112))]
            masks = [d.mask for d in found]
            assert all(m is not None and m.bitmap.all() for m in masks)
            assert [(m.left, m.top, m.width, m.height) for m in masks if m] == [(16, 16, 32, 32), (48, 80, 16, 32)]
            assert found[0].keypoints is None and found[0].xywhr is None
        assert detector.detect_batch([_png(_grey(128, 128))] * 2)[1][1].mask.area == 16 * 32  # type: ignore[union-attr]
        traced = detector.detect(_grey(128, 128), polygons=True)[0]
        assert traced.mask is not None and traced.mask.polygon is not None
        assert traced.mask.polygon.tolist() == [[16, 16], [47, 16], [47, 47], [16, 47]]
        assert traced.to_dict()["mask"]["polygon"][0] == [16, 16]
        assert found[0].mask is not None and found[0].mask.polygon is None, "traced on request only"


def _png(array: np.ndarray) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def test_synthetic_pose_obb_and_classify(synthetic: Path) -> None:
    with yolo_ffi.Detector(synthetic / "pose_fixed.onnx") as pose:
        assert pose.task == "pose" and pose.kpt_shape == (2, 3)
        first = pose.detect(_grey(64, 64))[0]
        assert first.keypoints is not None
        assert first.keypoints.tolist() == [[14.0, 15.0, pytest.approx(0.95)], [64.0, 0.0, pytest.approx(0.4)]]
    with yolo_ffi.Detector(synthetic / "obb_fixed.onnx") as obb:
        found = obb.detect(_grey(64, 64))
        assert [d.class_name for d in found] == ["bar", "block", "bar"]
        assert found[0].xywhr == pytest.approx((20, 20, 20, 8, 0.3))
        assert found[0].corners is not None and len(found[0].corners) == 4
    with yolo_ffi.Detector(synthetic / "classify_task.onnx", top_k=2) as classify:
        assert classify.task == "classify"
        top = classify.classify(_grey(80, 64))
        assert [(c.class_id, c.class_name, c.probability) for c in top] == [(1, "it's", 0.5), (2, "café", pytest.approx(0.3))]
        assert len(classify.classify(_grey(80, 64), top_k=3)) == 3


def test_cli_draws_and_prints_every_task(synthetic: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    image = tmp_path / "grey.png"
    image.write_bytes(_png(_grey(96, 80)))
    for model in ("seg_fixed.onnx", "pose_fixed.onnx", "obb_fixed.onnx", "classify_task.onnx"):
        out = tmp_path / f"{model}.png"
        run = subprocess.run(
            [sys.executable, "-m", "yolo_ffi", str(synthetic / model), str(image), "--json", "--save", str(out)],
            capture_output=True,
            text=True,
            check=True,
        )
        line = json.loads(run.stdout)
        assert line["task"] == {"seg": "segment", "pos": "pose", "obb": "obb", "cla": "classify"}[model[:3]]
        assert line.get("detections") or line.get("classes")
        assert out.stat().st_size > 0
